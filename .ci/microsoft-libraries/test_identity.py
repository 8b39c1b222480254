"""Microsoft's identity libraries, unmodified, sign in against the emulator.

MSAL for Python (client secret, certificate with x5t#S256/PS256 and with x5t/RS256, device
code then silent refresh for another resource) and azure-identity (ClientSecretCredential,
CertificateCredential). Both read the OpenID Connect discovery document of the authority first
and post to the token endpoint it names; tokens are checked against the published JWKS.

Worked around, as the libraries document it: the emulator's host is not one of Microsoft's, so
MSAL's instance discovery (a call to login.microsoftonline.com) is turned off with
`instance_discovery=False` and azure-identity's with `disable_instance_discovery=True`
(https://learn.microsoft.com/python/api/msal/msal.application.clientapplication and
https://learn.microsoft.com/python/api/azure-identity/azure.identity.clientsecretcredential).
"""

import threading
import time

import jwt
import msal
import pytest
import requests
from azure.identity import CertificateCredential, ClientSecretCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from conftest import EXCHANGE_SCOPE, GRAPH_SCOPE, PUBLIC_CLIENT_ID


def jwks_client(emulator):
    config = requests.get(f"{emulator.authority}/v2.0/.well-known/openid-configuration", timeout=30).json()
    return config, jwt.PyJWKClient(config["jwks_uri"], ssl_context=_ssl(emulator))


def _ssl(emulator):
    import ssl

    return ssl.create_default_context(cafile=emulator.ca_pem)


def verified(emulator, token, audience):
    """The claims of a token whose RS256 signature verifies with the published key."""
    config, keys = jwks_client(emulator)
    key = keys.get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=config["id_token_signing_alg_values_supported"], audience=audience)


def confidential(emulator, credential):
    return msal.ConfidentialClientApplication(
        emulator.client_id,
        client_credential=credential,
        authority=emulator.authority,
        instance_discovery=False,
    )


def certificate(emulator):
    pem = (emulator.repo / "tests/fixtures/emulator_app_cert.pem").read_bytes()
    key = (emulator.repo / "tests/fixtures/emulator_app_key.pem").read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    return pem, key, cert.fingerprint(hashes.SHA1()).hex()


def test_discovery_names_the_emulators_endpoints(emulator):
    config, keys = jwks_client(emulator)
    assert config["token_endpoint"] == f"{emulator.authority}/oauth2/v2.0/token"
    assert config["device_authorization_endpoint"] == f"{emulator.authority}/oauth2/v2.0/devicecode"
    assert config["issuer"] == f"{emulator.base_url}/{emulator.tenant_id}/v2.0"
    assert [k.key_type for k in [keys.get_signing_keys()[0]]] == ["RSA"]


def test_msal_client_secret_gets_one_resource_per_token(emulator):
    app = confidential(emulator, emulator.client_secret)
    graph = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" in graph, graph
    claims = verified(emulator, graph["access_token"], "https://graph.microsoft.com")
    assert sorted(claims["roles"]) == ["Group.Read.All", "User.Read.All"]
    assert claims["tid"] == emulator.tenant_id
    exchange = app.acquire_token_for_client(scopes=[EXCHANGE_SCOPE])
    claims = verified(emulator, exchange["access_token"], "https://outlook.office365.com")
    assert claims["roles"] == ["Exchange.ManageAsApp"]


def test_msal_reports_the_services_errors(emulator):
    wrong = confidential(emulator, "not-the-secret").acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert (wrong["error"], wrong["error_codes"]) == ("invalid_client", [7000215])
    assert "Trace ID:" in wrong["error_description"] and "Correlation ID:" in wrong["error_description"]
    delegated_scope = confidential(emulator, emulator.client_secret).acquire_token_for_client(scopes=["User.Read"])
    assert (delegated_scope["error"], delegated_scope["error_codes"]) == ("invalid_scope", [1002012])
    unknown = msal.ConfidentialClientApplication(
        "00000000-1111-2222-3333-444444444444",
        client_credential="x",
        authority=emulator.authority,
        instance_discovery=False,
    ).acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert (unknown["error"], unknown["error_codes"]) == ("unauthorized_client", [700016])


def test_msal_certificate_with_sha256_thumbprint(emulator):
    pem, key, sha1 = certificate(emulator)
    # With the public certificate MSAL signs PS256 and names the certificate by x5t#S256.
    app = confidential(emulator, {"private_key": key, "thumbprint": sha1, "public_certificate": pem})
    for scope in (GRAPH_SCOPE, EXCHANGE_SCOPE):
        # MSAL reuses one assertion (same jti) for both requests, as the service allows.
        result = app.acquire_token_for_client(scopes=[scope])
        assert "access_token" in result, result


def test_msal_certificate_with_sha1_thumbprint(emulator):
    _, key, sha1 = certificate(emulator)
    # Without it, MSAL signs RS256 and names the certificate by x5t (SHA-1).
    result = confidential(emulator, {"private_key": key, "thumbprint": sha1}).acquire_token_for_client(
        scopes=[GRAPH_SCOPE]
    )
    assert "access_token" in result, result


def test_msal_device_code_then_silent_refresh(emulator):
    emulator.control("PUT", "faults", json={"device_code_interval_secs": 1})
    app = msal.PublicClientApplication(PUBLIC_CLIENT_ID, authority=emulator.authority, instance_discovery=False)
    flow = app.initiate_device_flow(scopes=[EXCHANGE_SCOPE])
    assert "user_code" in flow, flow
    assert flow["interval"] == 1 and flow["expires_in"] == 900
    alice = emulator.user("alice")

    def approve():
        time.sleep(1.5)
        emulator.control("POST", "devicecode/approve", json={"user_code": flow["user_code"], "user": alice})

    approver = threading.Thread(target=approve)
    approver.start()
    result = app.acquire_token_by_device_flow(flow)
    approver.join()
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == alice
    assert result["id_token_claims"]["tid"] == emulator.tenant_id
    accounts = app.get_accounts(username=alice)
    assert len(accounts) == 1, app.get_accounts()
    # The refresh token gets a token for the other resource without the user.
    graph = app.acquire_token_silent([GRAPH_SCOPE], account=accounts[0])
    assert graph and "access_token" in graph, graph
    claims = verified(emulator, graph["access_token"], "https://graph.microsoft.com")
    assert claims["upn"] == alice


def test_msal_device_code_declined(emulator):
    emulator.control("PUT", "faults", json={"device_code_interval_secs": 1})
    app = msal.PublicClientApplication(PUBLIC_CLIENT_ID, authority=emulator.authority, instance_discovery=False)
    flow = app.initiate_device_flow(scopes=[EXCHANGE_SCOPE])
    emulator.control(
        "POST",
        "devicecode/approve",
        json={"user_code": flow["user_code"], "user": emulator.user("alice"), "decline": True},
    )
    result = app.acquire_token_by_device_flow(flow)
    assert result.get("error") == "authorization_declined", result


def test_azure_identity_client_secret(emulator):
    credential = ClientSecretCredential(
        emulator.tenant,
        emulator.client_id,
        emulator.client_secret,
        authority=emulator.base_url,
        disable_instance_discovery=True,
    )
    token = credential.get_token(GRAPH_SCOPE)
    assert token.expires_on > time.time()
    assert verified(emulator, token.token, "https://graph.microsoft.com")["appid"] == emulator.client_id


def test_azure_identity_certificate(emulator, tmp_path):
    pem, key, _ = certificate(emulator)
    combined = tmp_path / "app.pem"
    combined.write_bytes(key + pem)
    credential = CertificateCredential(
        emulator.tenant,
        emulator.client_id,
        certificate_path=str(combined),
        authority=emulator.base_url,
        disable_instance_discovery=True,
    )
    for scope in (EXCHANGE_SCOPE, GRAPH_SCOPE):
        assert credential.get_token(scope).token


def test_azure_identity_surfaces_a_wrong_secret(emulator):
    from azure.core.exceptions import ClientAuthenticationError

    credential = ClientSecretCredential(
        emulator.tenant,
        emulator.client_id,
        "not-the-secret",
        authority=emulator.base_url,
        disable_instance_discovery=True,
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        credential.get_token(GRAPH_SCOPE)
