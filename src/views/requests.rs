//! Requests as `pamform request` prints them, in local time: the `list` table that fits 100
//! columns, the `show` block, the one-line outcomes of `new`, `approve`, `deny`, `revoke` and
//! `wait`, and the JSON of each (the request views themselves).

use std::fmt::Write as _;

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::requests::status::{RequestView, kind_label, short_id, state, task_label};
use crate::requests::workflow::Approvers;
use crate::wire::exchange as wx;

/// Text from the tenant as a terminal shows it: control characters (a carriage return, a line
/// break, an escape code) and the marks that reorder text are escaped (`\r`, `\u{1b}`), so
/// a requestor's reason cannot overwrite, hide or reorder the lines an approver reads.
pub fn printable(text: &str) -> String {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return text.to_string();
    }
    text.chars()
        .map(|c| if unsafe_char(c) { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

/// `v` with every text the tenant or a requestor wrote made [`printable`].
fn shown(v: &RequestView) -> RequestView {
    let mut v = v.clone();
    for f in [&mut v.id, &mut v.kind, &mut v.status, &mut v.state] {
        *f = printable(f);
    }
    for f in
        [&mut v.requestor, &mut v.task, &mut v.reason, &mut v.approver_group, &mut v.approver, &mut v.comment]
            .into_iter()
            .flatten()
    {
        *f = printable(f);
    }
    v
}

/// `value` as pretty JSON, ending with a newline.
pub fn json(value: &impl serde::Serialize) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_string());
    format!("{text}\n")
}

/// A duration for people: `3h 59m`, `12m`, `under a minute`.
pub fn human(d: Duration) -> String {
    let mins = d.num_minutes();
    if mins < 1 {
        return "under a minute".to_string();
    }
    let (h, m) = (mins / 60, mins % 60);
    match (h, m) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}

/// A full time in `tz` for `request show`: `2026-11-29 14:05 +01:00`.
pub fn stamp<Tz: TimeZone>(t: DateTime<Utc>, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.with_timezone(tz).format("%Y-%m-%d %H:%M %:z").to_string()
}

/// A time in `tz`: `14:05` on the day of `now`, else `Nov 29 14:05`.
pub fn clock<Tz: TimeZone>(t: DateTime<Utc>, now: DateTime<Utc>, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let local = t.with_timezone(tz);
    if local.date_naive() == now.with_timezone(tz).date_naive() {
        local.format("%H:%M").to_string()
    } else {
        local.format("%b %d %H:%M").to_string()
    }
}

/// The WHEN column and the status line of `show`.
pub fn when<Tz: TimeZone>(v: &RequestView, now: DateTime<Utc>, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let at = |t: Option<DateTime<Utc>>| t.map(|t| clock(t, now, tz)).unwrap_or_else(|| "-".to_string());
    if v.foreign {
        return v.requested_at.map(|r| format!("requested {}", clock(r, now, tz))).unwrap_or_default();
    }
    match v.state.as_str() {
        state::PENDING => match v.expires_at {
            Some(e) if e > now => format!("expires in {}", human(e - now)),
            _ => "expiring".to_string(),
        },
        state::ACTIVE => {
            let left = v.access_until.map(|u| human(u - now)).unwrap_or_default();
            format!("until {} ({left} left)", at(v.access_until))
        }
        state::ENDED => match v.access_until {
            Some(end) if end <= now => format!("ended {}", clock(end, now, tz)),
            _ => "ended early (revoked)".to_string(),
        },
        state::REVOKED => "access revoked".to_string(),
        state::DENIED => format!("denied {}", at(v.decided_at)),
        state::EXPIRED => format!(
            "expired {}",
            at(v.expires_at
                .or(v.requested_at.map(|r| { r + Duration::hours(wx::PENDING_REQUEST_EXPIRY_HOURS) })))
        ),
        _ => v.requested_at.map(|r| format!("requested {}", clock(r, now, tz))).unwrap_or_default(),
    }
}

/// Cuts `s` to `width` characters, ending in `…` when cut.
fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Tables stay within this many columns for the usual values, on a terminal at least as wide.
pub const TABLE_WIDTH: usize = 100;

/// The module of the tasks PAM gates, left out of the TASK column on a narrow terminal.
const TASK_MODULE: &str = "Exchange\\";

/// The `request list` table: columns as wide as their values. On a terminal (`terminal`: its
/// width) the ids are short, and when a row is wider than the terminal (or [`TABLE_WIDTH`])
/// tasks lose their `Exchange\` module, then requestors and tasks are cut (with `…`),
/// requestors first; in a pipe every value is whole, for scripts and logs. `request show`
/// has every value whole, and ids are cut only where a unique start of them is accepted.
pub fn table<Tz: TimeZone>(
    views: &[RequestView],
    now: DateTime<Utc>,
    tz: &Tz,
    terminal: Option<usize>,
) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let views: Vec<RequestView> = views.iter().map(shown).collect();
    let header = ["ID", "STATUS", "REQUESTOR", "TASK", "WHEN"].map(str::to_string);
    let fit_terminal = terminal.is_some();
    let limit = terminal.unwrap_or(TABLE_WIDTH).min(TABLE_WIDTH);
    let mut rows: Vec<[String; 5]> = views
        .iter()
        .map(|v| {
            let task = if v.foreign {
                format!("[{}]", kind_label(&v.kind))
            } else {
                v.task.as_deref().map(task_label).unwrap_or_default()
            };
            let state = if v.foreign { v.status.to_lowercase() } else { v.state.clone() };
            [
                // Only a PAM request's id is shortened: a unique start of it is accepted; a
                // foreign item's short id is not its own.
                if fit_terminal && !v.foreign { short_id(&v.id) } else { v.id.clone() },
                state,
                v.requestor.clone().unwrap_or_else(|| "-".into()),
                task,
                when(v, now, tz),
            ]
        })
        .collect();
    let widths = |rows: &[[String; 5]]| -> Vec<usize> {
        (0..5)
            .map(|i| rows.iter().chain([&header]).map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect()
    };
    let mut w = widths(&rows);
    let too_wide = |w: &[usize]| w.iter().sum::<usize>() + 8 > limit;
    if fit_terminal && too_wide(&w) {
        for r in rows.iter_mut() {
            if let Some(cmdlet) = r[3].strip_prefix(TASK_MODULE) {
                r[3] = cmdlet.to_string();
            }
        }
        w = widths(&rows);
    }
    if fit_terminal {
        w[2] = w[2].min(40);
        w[3] = w[3].min(40);
        // Give up requestor width (down to 10: the start of a UPN names the person), then
        // task width (down to 16), until the widest row fits.
        while too_wide(&w) && (w[2] > 10 || w[3] > 16) {
            let i = if w[2] > 10 { 2 } else { 3 };
            w[i] -= 1;
        }
    }
    let mut out = String::new();
    for r in [&header].into_iter().chain(rows.iter()) {
        let line = format!(
            "{:<a$}  {:<b$}  {:<c$}  {:<d$}  {}",
            fit(&r[0], w[0]),
            fit(&r[1], w[1]),
            fit(&r[2], w[2]),
            fit(&r[3], w[3]),
            r[4],
            a = w[0],
            b = w[1],
            c = w[2],
            d = w[3]
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// The `request show` block.
pub fn details<Tz: TimeZone>(v: &RequestView, now: DateTime<Utc>, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let v = &shown(v);
    let mut lines: Vec<(&str, String)> = vec![("Request", v.id.clone())];
    if v.foreign {
        lines.push(("Kind", format!("{} (not a PAM request; handled outside pamform)", kind_label(&v.kind))));
        lines.push(("Status", v.status.clone()));
    } else {
        lines.push(("Status", format!("{}: {}", v.state, when(v, now, tz))));
    }
    if let Some(r) = &v.requestor {
        lines.push(("Requestor", r.clone()));
    }
    if let Some(t) = &v.task {
        lines.push(("Task", task_label(t)));
    }
    if let Some(h) = v.duration_hours {
        lines.push(("Duration", format!("{h} hour{}", if h == 1 { "" } else { "s" })));
    }
    if let Some(r) = &v.reason {
        lines.push(("Reason", r.clone()));
    }
    if let Some(t) = v.requested_at {
        lines.push(("Requested", stamp(t, tz)));
    }
    if let Some(g) = &v.approver_group {
        lines.push(("Approvers", g.clone()));
    }
    if let Some(a) = &v.approver {
        let at = v.decided_at.map(|t| format!(" at {}", stamp(t, tz))).unwrap_or_default();
        lines.push(("Decided", format!("by {a}{at}")));
        // On a line of its own: after the approver and the time, it would not fit 80 columns.
        if let Some(c) = v.comment.as_deref().filter(|c| !c.is_empty()) {
            lines.push(("Comment", c.to_string()));
        }
    }
    let mut out = String::new();
    for (k, val) in lines {
        let _ = writeln!(out, "{k:<10} {val}");
    }
    out
}

/// `Exchange\New-MoveRequest for 4 hours`
fn what(v: &RequestView) -> String {
    let task = v.task.as_deref().map(task_label).unwrap_or_default();
    let hours = v.duration_hours.map(|h| format!(" for {h} hour{}", if h == 1 { "" } else { "s" }));
    format!("{task}{}", hours.unwrap_or_default())
}

/// `dave@contoso.com: Exchange\New-MoveRequest for 4 hours`
fn summary(v: &RequestView) -> String {
    format!("{}: {}", v.requestor.as_deref().unwrap_or("-"), what(v))
}

/// What `request new` made, and who decides it.
pub fn created<Tz: TimeZone>(
    v: &RequestView,
    approvers: Option<&Approvers>,
    now: DateTime<Utc>,
    tz: &Tz,
) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let v = &shown(v);
    let mut s = format!("Requested {} as request {}.\n", what(v), v.id);
    if v.state == state::ACTIVE {
        s.push_str(&format!("Approved automatically: access {}.\n", when(v, now, tz)));
        return s;
    }
    s.push_str(&format!("Status: {}, {}.\n", v.state, when(v, now, tz)));
    if let Some(a) = approvers {
        match &a.members {
            Some(m) if !m.is_empty() => s.push_str(&format!(
                "Approvers: {} ({})\n",
                printable(&a.group),
                m.iter().map(|x| printable(x)).collect::<Vec<_>>().join(", ")
            )),
            _ => s.push_str(&format!("Approvers: members of {}\n", printable(&a.group))),
        }
    }
    s.push_str(&format!("Follow it with `pamform request wait {}`.\n", short_id(&v.id)));
    s
}

/// `request list` with nothing to show: `No pending requests.`
pub fn none(pending: bool, all: bool) -> String {
    let what = if pending {
        "pending "
    } else if all {
        ""
    } else {
        "open "
    };
    format!("No {what}requests.\n")
}

/// What `request approve` or `deny` did.
pub fn decided<Tz: TimeZone>(v: &RequestView, approved: bool, now: DateTime<Utc>, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let verb = if approved { "Approved" } else { "Denied" };
    let v = &shown(v);
    let mut s = format!("{verb} request {} ({}).\n", v.id, summary(v));
    if approved {
        s.push_str(&format!("Access: {}.\n", when(v, now, tz)));
    }
    s
}

/// What `request revoke` did.
pub fn revoked(v: &RequestView) -> String {
    let v = &shown(v);
    format!("Revoked the access of request {} ({}).\n", v.id, summary(v))
}

/// `request wait`'s spinner line while the request is undecided.
pub fn waiting<Tz: TimeZone>(v: &RequestView, now: DateTime<Utc>, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let v = &shown(v);
    format!("request {}: {}", short_id(&v.id), when(v, now, tz))
}

/// `request wait` when the request was approved.
pub fn approved<Tz: TimeZone>(v: &RequestView, now: DateTime<Utc>, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let v = &shown(v);
    format!("Request {} was approved{}; access {}.\n", v.id, decision(v), when(v, now, tz))
}

/// ` by alice@contoso.com: ok`: who decided, and their comment.
pub fn decision(v: &RequestView) -> String {
    let v = &shown(v);
    let by = v.approver.as_deref().map(|x| format!(" by {x}")).unwrap_or_default();
    let comment =
        v.comment.as_deref().filter(|c| !c.is_empty()).map(|c| format!(": {c}")).unwrap_or_default();
    format!("{by}{comment}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::status::tests::sample;

    #[test]
    fn table_and_details_render_in_100_columns() {
        let (v, now) = sample();
        let text = table(&v, now, &Utc, Some(100));
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        insta::assert_snapshot!("request_table", text);
        // In a pipe nothing is cut: whole ids, requestors and tasks.
        let piped = table(&v, now, &Utc, None);
        let narrow = table(&v, now, &Utc, Some(80));
        assert!(narrow.lines().all(|l| l.chars().count() <= 80), "{narrow}");
        assert!(!piped.contains('…'), "{piped}");
        assert!(v.iter().all(|r| piped.contains(&r.id)), "{piped}");
        insta::assert_snapshot!("request_details", details(&v[1], now, &Utc));
        insta::assert_snapshot!("request_details_foreign", details(&v[5], now, &Utc));
    }

    #[test]
    fn humans_read_durations() {
        assert_eq!(human(Duration::seconds(30)), "under a minute");
        assert_eq!(human(Duration::minutes(59)), "59m");
        assert_eq!(human(Duration::minutes(120)), "2h");
        assert_eq!(human(Duration::minutes(239)), "3h 59m");
    }
}
