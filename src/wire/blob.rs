//! Azure Blob Storage REST API: the requests the remote state backend sends (Get Blob, Put
//! Blob, Get Blob Properties, Set Blob Metadata, Lease Blob, Snapshot Blob, List Blobs), their
//! headers, status codes and error codes, and Shared Key signing. (**doc** unless marked)
//!
//! Sources:
//! - REST operations: <https://learn.microsoft.com/rest/api/storageservices/operations-on-blobs>
//! - Lease Blob: <https://learn.microsoft.com/rest/api/storageservices/lease-blob>
//! - Conditional headers: <https://learn.microsoft.com/rest/api/storageservices/specifying-conditional-headers-for-blob-service-operations>
//! - Shared Key: <https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key>
//! - Entra ID: <https://learn.microsoft.com/rest/api/storageservices/authorize-with-azure-active-directory>
//! - Snapshot Blob: <https://learn.microsoft.com/rest/api/storageservices/snapshot-blob>
//! - List Blobs: <https://learn.microsoft.com/rest/api/storageservices/list-blobs>
//! - Error codes: <https://learn.microsoft.com/rest/api/storageservices/blob-service-error-codes>
//! - Emulator addressing (`http://127.0.0.1:10000/<account>/...`):
//!   <https://learn.microsoft.com/azure/storage/common/storage-use-azurite#connection-strings>

/// The service version every request names (`x-ms-version`). Bearer tokens need 2017-11-09 or
/// later; Azurite 3.35 accepts it.
pub const VERSION: &str = "2021-12-02";

/// The resource (audience) of an Entra token for Blob Storage; scope `{resource}/.default`.
pub const STORAGE_RESOURCE: &str = "https://storage.azure.com";

/// `https://{account}.blob.core.windows.net`, the public cloud's endpoint of an account.
pub fn default_endpoint(account: &str) -> String {
    format!("https://{account}.blob.core.windows.net")
}

/// Request headers.
pub const H_VERSION: &str = "x-ms-version";
pub const H_DATE: &str = "x-ms-date";
pub const H_BLOB_TYPE: &str = "x-ms-blob-type";
pub const H_LEASE_ACTION: &str = "x-ms-lease-action";
pub const H_LEASE_DURATION: &str = "x-ms-lease-duration";
pub const H_LEASE_ID: &str = "x-ms-lease-id";
pub const H_PROPOSED_LEASE_ID: &str = "x-ms-proposed-lease-id";
pub const H_LEASE_BREAK_PERIOD: &str = "x-ms-lease-break-period";
pub const H_META_PREFIX: &str = "x-ms-meta-";
/// Whether a header is one of the service's own (`x-ms-*`), signed in the canonicalized headers.
pub fn is_ms_header(name: &str) -> bool {
    name.len() > 5 && name[..5].eq_ignore_ascii_case("x-ms-")
}
/// Response headers.
pub const H_ERROR_CODE: &str = "x-ms-error-code";
pub const H_LEASE_STATE: &str = "x-ms-lease-state";
pub const H_ETAG: &str = "etag";

/// `x-ms-blob-type` of a whole-object blob written with one Put Blob.
pub const BLOCK_BLOB: &str = "BlockBlob";

/// `x-ms-lease-action` values.
pub const LEASE_ACQUIRE: &str = "acquire";
pub const LEASE_RENEW: &str = "renew";
pub const LEASE_RELEASE: &str = "release";
pub const LEASE_BREAK: &str = "break";

/// A finite lease lasts 15 to 60 seconds (`x-ms-lease-duration`); -1 is infinite. (Lease Blob)
pub const LEASE_MAX_SECONDS: u32 = 60;

/// `x-ms-lease-state` of a blob someone holds a lease on.
pub const LEASE_STATE_LEASED: &str = "leased";

/// Query strings of the operations (`comp=` and friends).
pub const Q_LEASE: &str = "comp=lease";
pub const Q_METADATA: &str = "comp=metadata";
pub const Q_SNAPSHOT: &str = "comp=snapshot";
pub const Q_CONTAINER: &str = "restype=container";
/// List Blobs with snapshots and metadata, under a prefix.
pub fn list_query(prefix: &str) -> String {
    format!(
        "restype=container&comp=list&include=snapshots,metadata&prefix={}",
        percent_encoding::utf8_percent_encode(prefix, QUERY_VALUE)
    )
}
/// The next page of a List Blobs, from the previous page's `NextMarker`.
pub fn marker_query(marker: &str) -> String {
    format!("marker={}", percent_encoding::utf8_percent_encode(marker, QUERY_VALUE))
}
/// Get Blob of one snapshot.
pub fn snapshot_query(snapshot: &str) -> String {
    format!("snapshot={}", percent_encoding::utf8_percent_encode(snapshot, QUERY_VALUE))
}

/// What must be escaped in a query value (a snapshot time carries `:`; a prefix may carry
/// anything).
const QUERY_VALUE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// What must be escaped in a container or blob name inside the path (`/` separates virtual
/// directories and stays).
pub const PATH_SEGMENT: &percent_encoding::AsciiSet = &QUERY_VALUE.remove(b'/');

/// Status codes of the operations used. (**doc**, per operation page)
pub mod status {
    /// Put Blob, Snapshot Blob, Lease acquire, Create Container.
    pub const CREATED: u16 = 201;
    /// Get Blob, Get Blob Properties, Set Blob Metadata, Lease renew/release, List Blobs.
    pub const OK: u16 = 200;
    /// Lease break.
    pub const ACCEPTED: u16 = 202;
    pub const FORBIDDEN: u16 = 403;
    pub const NOT_FOUND: u16 = 404;
    /// LeaseAlreadyPresent, ContainerAlreadyExists, BlobAlreadyExists (If-None-Match: *).
    pub const CONFLICT: u16 = 409;
    /// ConditionNotMet (If-Match), LeaseIdMissing, LeaseIdMismatchWithBlobOperation, LeaseLost.
    pub const PRECONDITION_FAILED: u16 = 412;
}

/// `x-ms-error-code` values pamform tells apart. Others it reports as they come, with the
/// status: `LeaseAlreadyPresent` (409, the lock is held), `ConditionNotMet` (412, the ETag
/// changed), `LeaseIdMissing` / `LeaseIdMismatchWithBlobOperation` / `LeaseLost` (412, a
/// write without the current lease), `AuthorizationFailure` / `AuthorizationPermissionMismatch`
/// (403).
pub mod error_code {
    /// 404 on a blob operation: the container itself is missing (not just the blob).
    pub const CONTAINER_NOT_FOUND: &str = "ContainerNotFound";
}

/// Metadata names (C# identifiers, compared without case; values ASCII) under which pamform
/// keeps the lock holder's details on the leased state blob. (**assumed**: pamform's choice)
pub mod meta {
    pub const LOCK_ID: &str = "pamformlockid";
    pub const LOCK_WHO: &str = "pamformlockwho";
    pub const LOCK_HOST: &str = "pamformlockhost";
    pub const LOCK_PID: &str = "pamformlockpid";
    pub const LOCK_COMMAND: &str = "pamformlockcommand";
    pub const LOCK_CREATED: &str = "pamformlockcreated";
    /// The state's serial and lineage, so that `state versions` lists snapshots without
    /// downloading each one.
    pub const SERIAL: &str = "pamformserial";
    pub const LINEAGE: &str = "pamformlineage";
}

/// `x-ms-date` and `Date`: RFC 1123 in GMT.
pub fn http_date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The parts of a request Shared Key signs.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// Content-Length; zero is signed as the empty string (version 2015-02-21 and later).
    pub content_length: usize,
    pub content_type: &'a str,
    pub if_match: &'a str,
    pub if_none_match: &'a str,
    /// Every `x-ms-*` header, names lower-case.
    pub ms_headers: &'a [(String, String)],
    /// The account name.
    pub account: &'a str,
    /// The URL's path, percent-encoded as sent (for the emulator it starts with the account).
    pub path: &'a str,
    /// The query parameters, decoded.
    pub query: &'a [(String, String)],
}

/// The Shared Key string-to-sign of the Blob service:
/// `VERB\nContent-Encoding\nContent-Language\nContent-Length\nContent-MD5\nContent-Type\nDate\n
/// If-Modified-Since\nIf-Match\nIf-None-Match\nIf-Unmodified-Since\nRange\n` then the
/// canonicalized `x-ms-` headers (sorted, `name:value\n`) and the canonicalized resource
/// (`/{account}{path}` then `\nname:value` per query parameter, names lower-case and sorted,
/// repeated names' values sorted and joined by commas).
pub fn string_to_sign(r: &SignedRequest<'_>) -> String {
    let length = if r.content_length == 0 { String::new() } else { r.content_length.to_string() };
    let mut s = format!(
        "{}\n\n\n{}\n\n{}\n\n\n{}\n{}\n\n\n",
        r.method, length, r.content_type, r.if_match, r.if_none_match
    );
    let mut headers: Vec<(String, String)> =
        r.ms_headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string())).collect();
    headers.sort();
    for (k, v) in headers {
        s.push_str(&format!("{k}:{v}\n"));
    }
    s.push_str(&format!("/{}{}", r.account, r.path));
    let mut params: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for (k, v) in r.query {
        params.entry(k.to_ascii_lowercase()).or_default().push(v.clone());
    }
    for (k, mut vs) in params {
        vs.sort();
        s.push_str(&format!("\n{k}:{}", vs.join(",")));
    }
    s
}

/// `Authorization: SharedKey {account}:{signature}`.
pub fn shared_key_header(account: &str, signature: &str) -> String {
    format!("SharedKey {account}:{signature}")
}

/// Azurite's well-known development account and key, published by Microsoft for the emulator
/// (not a secret). (**doc**, Azurite connection strings)
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
pub const DEV_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Microsoft's Shared Key page's layout: verb, empty standard
    /// headers, sorted `x-ms-` headers and the emulator's path with the account twice.
    #[test]
    fn string_to_sign_follows_the_documented_layout() {
        let headers = vec![
            ("x-ms-version".to_string(), VERSION.to_string()),
            ("x-ms-date".to_string(), "Mon, 30 Nov 2026 08:00:00 GMT".to_string()),
        ];
        let query = vec![("comp".to_string(), "lease".to_string())];
        let s = string_to_sign(&SignedRequest {
            method: "PUT",
            content_length: 0,
            content_type: "",
            if_match: "",
            if_none_match: "",
            ms_headers: &headers,
            account: DEV_ACCOUNT,
            path: "/devstoreaccount1/tfstate/prod.json",
            query: &query,
        });
        assert_eq!(
            s,
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Mon, 30 Nov 2026 08:00:00 GMT\nx-ms-version:2021-12-02\n/devstoreaccount1/devstoreaccount1/tfstate/prod.json\ncomp:lease"
        );
    }

    #[test]
    fn dates_are_rfc1123() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-30T08:01:02Z").unwrap().to_utc();
        assert_eq!(http_date(t), "Mon, 30 Nov 2026 08:01:02 GMT");
    }
}
