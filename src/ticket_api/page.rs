//! The `/tickets` page: the answer of the API as server-rendered HTML that needs no
//! JavaScript, refreshes itself, and has the API's filters as a GET form. Every value is
//! escaped: ticket ids are untrusted input.

use std::fmt::Write;

use super::query::{dimension_name, state_names, ticket_link, DEFAULT_LIMIT, MAX_LIMIT};
use super::{Answer, BadParameter, Query};
use crate::base::Millis;
use crate::engine::Rules;
use crate::sla::SlaTarget;

/// The page reloads itself this often (a meta refresh: no JavaScript).
pub(crate) const REFRESH_SECONDS: u32 = 30;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.2em 1.5em;color:#1d1d1f}\
h1{font-size:1.3em;margin:0 0 .6em}\
form{display:flex;flex-wrap:wrap;gap:.5em 1.2em;align-items:flex-end;margin-bottom:.8em}\
fieldset{border:1px solid #ccc;padding:.2em .6em}\
label{white-space:nowrap}\
.meta,.error{margin:.4em 0 .8em}.meta{color:#555}.error{color:#b00020;font-weight:bold}\
table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.25em .5em;border-bottom:1px solid #e3e3e3;white-space:nowrap}\
th{background:#f3f3f3}\
tr.breached .state,.overdue{color:#b00020;font-weight:bold}\
tr.at-risk .state{color:#a05a00;font-weight:bold}";

/// The page for `answer`.
pub fn render(answer: &Answer, query: &Query, rules: &Rules, ticket_url: Option<&str>) -> String {
    let mut out = head();
    form(&mut out, query, rules);
    let partitions: Vec<String> =
        answer.partitions.iter().map(|p| format!("{}/{} at {}", esc(&p.topic), p.partition, esc(&p.current_time))).collect();
    let _ = writeln!(
        out,
        "<p class=\"meta\"><strong>{total}</strong> matching, {shown} shown, most overdue first, then soonest due; times in UTC. \
         Read at {read_at}; partitions: {partitions}. Refreshes every {REFRESH_SECONDS} s. \
         <a href=\"api/v1/tickets?{json}\">JSON</a></p>",
        total = answer.total,
        shown = answer.items.len(),
        read_at = esc(answer.read_at.as_deref().unwrap_or("each partition's stream time")),
        partitions = if partitions.is_empty() { "none assigned".to_string() } else { partitions.join(", ") },
        json = esc(&query.to_query_string(rules)),
    );
    if answer.items.is_empty() {
        out.push_str("<p>No open ticket matches.</p>\n");
    } else {
        table(&mut out, answer, rules, ticket_url);
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The page for a query that could not be used: the reason and a fresh form.
pub(crate) fn render_error(error: &BadParameter, query: &Query, rules: &Rules) -> String {
    let mut out = head();
    form(&mut out, query, rules);
    let _ = writeln!(out, "<p class=\"error\">{}</p>", esc(&error.to_string()));
    out.push_str("</body>\n</html>\n");
    out
}

fn head() -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Open tickets · ticketpulse</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>Open tickets behind the SLA gauges</h1>\n"
    )
}

/// The filters, as a GET form showing the query's values.
fn form(out: &mut String, query: &Query, rules: &Rules) {
    let policies = &rules.ticket.policies;
    out.push_str("<form method=\"get\" action=\"tickets\">\n<fieldset><legend>State</legend>");
    for state in state_names() {
        let checked = if query.selects(state) { " checked" } else { "" };
        let _ =
            write!(out, " <label><input type=\"checkbox\" name=\"state\" value=\"{state}\"{checked}> {}</label>", state.replace('_', " "));
    }
    out.push_str("</fieldset>\n");
    let names: Vec<&str> = policies.names().collect();
    select(out, "Policy", "policy", &names, query.policy().map(|p| policies.name(p)), Some("any"));
    let targets = SlaTarget::ALL.map(SlaTarget::as_str);
    select(out, "Target", "target", &targets, query.target().map(SlaTarget::as_str), Some("any"));
    for dimension in rules.ticket.catalog.label_dimensions() {
        let values = rules.ticket.catalog.values(*dimension);
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let name = dimension_name(*dimension);
        select(out, name, name, &values, query.dimension(*dimension), Some("any"));
    }
    let _ = writeln!(
        out,
        "<label>Last agent <input type=\"text\" name=\"agent\" maxlength=\"{}\" value=\"{}\" placeholder=\"any\"></label>",
        crate::event::MAX_ID_BYTES,
        esc(query.agent().unwrap_or(""))
    );
    let horizons: Vec<&str> = policies.horizons().iter().map(|(label, _)| label.as_str()).collect();
    if !horizons.is_empty() {
        select(out, "At risk within", "horizon", &horizons, query.horizon().map(|h| horizons[h]), None);
    }
    let _ = write!(
        out,
        "<label>Limit <input type=\"number\" name=\"limit\" min=\"0\" max=\"{MAX_LIMIT}\" value=\"{}\" placeholder=\"{DEFAULT_LIMIT}\"></label>\n\
         <button type=\"submit\">Show</button>\n</form>\n",
        query.limit()
    );
}

/// A `<select>`; `any`: the label of an empty first option (no filter).
fn select(out: &mut String, label: &str, name: &str, values: &[&str], selected: Option<&str>, any: Option<&str>) {
    let _ = write!(out, "<label>{} <select name=\"{}\">", esc(label), esc(name));
    if let Some(any) = any {
        let _ = write!(out, "<option value=\"\">{any}</option>");
    }
    for value in values {
        let chosen = if selected == Some(*value) { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{0}\"{chosen}>{0}</option>", esc(value));
    }
    out.push_str("</select></label>\n");
}

fn table(out: &mut String, answer: &Answer, rules: &Rules, ticket_url: Option<&str>) {
    let dimensions = rules.ticket.catalog.label_dimensions();
    out.push_str("<table>\n<thead><tr><th>Ticket</th><th>State</th><th>Policy</th><th>Target</th><th>Deadline</th><th>Due</th>");
    for dimension in dimensions {
        let _ = write!(out, "<th>{}</th>", dimension_name(*dimension));
    }
    out.push_str("<th>Status</th><th>Created</th><th>Waiting since</th><th>Last agent</th></tr></thead>\n<tbody>\n");
    for item in &answer.items {
        let class = if item.at_risk { "at-risk" } else { item.state };
        let id = esc(&item.ticket_id);
        // Isolated, so an id in a right-to-left script cannot reorder what is around it.
        let ticket = match ticket_url.and_then(|template| ticket_link(template, &item.ticket_id)) {
            Some(link) => format!("<bdi><a href=\"{}\">{id}</a></bdi>", esc(&link)),
            None => format!("<bdi>{id}</bdi>"),
        };
        let state = if item.at_risk { format!("{} (at risk)", item.state) } else { item.state.to_string() };
        let due = match item.seconds_to_deadline {
            Some(s) if s < 0.0 => format!("<span class=\"overdue\">overdue {}</span>", span((-s * 1000.0) as Millis)),
            Some(s) => format!("in {}", span((s * 1000.0) as Millis)),
            None => "—".to_string(),
        };
        let _ = write!(
            out,
            "<tr class=\"{class}\"><td class=\"ticket\">{ticket}</td><td class=\"state\">{state}</td><td>{}</td><td>{}</td><td>{}</td><td>{due}</td>",
            esc(item.policy.as_deref().unwrap_or("—")),
            item.target.unwrap_or("—"),
            when(item.deadline.as_deref()),
        );
        for (_, value) in &item.dimensions.0 {
            let _ = write!(out, "<td>{}</td>", esc(value));
        }
        let _ = writeln!(
            out,
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            item.status,
            when(Some(&item.created_at)),
            when(item.waiting_since.as_deref()),
            esc(item.last_agent.as_deref().unwrap_or("—"))
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// An RFC 3339 instant, short (`01-05 08:30:00`, UTC) with the full form in `datetime`.
fn when(rfc3339: Option<&str>) -> String {
    match rfc3339.and_then(|t| t.parse::<jiff::Timestamp>().ok()) {
        Some(t) => format!("<time datetime=\"{t}\">{}</time>", t.strftime("%m-%d %H:%M:%S")),
        None => "—".to_string(),
    }
}

/// A duration in its two largest units: `2d 3h`, `1h 05m`, `4m 09s`, `12s`.
fn span(ms: Millis) -> String {
    let s = ms / 1000;
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s:02}s"),
        (0, _, _) => format!("{h}h {m:02}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// Escapes text for HTML content and quoted attribute values. Characters that would act on
/// the page rather than show are written as their code point, `[U+XXXX]`: control characters
/// (NUL, ESC, DEL, C1; a character reference would still put them in the document) and the
/// bidirectional formatting characters, which reorder the text around them: a ticket id
/// `\u{202E}gnp.exe` would otherwise read "exe.png". The JSON API carries the ids exactly.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if acts_on_the_page(c) => {
                let _ = write!(out, "[U+{:04X}]", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Control characters, the line and paragraph separators, and the bidirectional formatting
/// characters (marks, embeddings, overrides, isolates: Unicode's `Bidi_Control` and the
/// implicit marks).
fn acts_on_the_page(c: char) -> bool {
    c.is_control() || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidirectional_formatting_characters_show_as_their_code_point() {
        assert_eq!(esc("\u{202E}gnp.exe"), "[U+202E]gnp.exe");
        assert_eq!(esc("A\0B\x1bC\x7fD\u{85}"), "A[U+0000]B[U+001B]C[U+007F]D[U+0085]");
        assert_eq!(esc("\u{2066}x\u{2069}\u{200F}\u{061C}\u{2028}"), "[U+2066]x[U+2069][U+200F][U+061C][U+2028]");
        // Right-to-left letters are text: shown as they are (the cell isolates them).
        assert_eq!(esc("تذكرة-7 é"), "تذكرة-7 é");
    }

    #[test]
    fn escaping_and_spans() {
        assert_eq!(
            esc(r#"<script>alert("x" + 'y') & co</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; + &#39;y&#39;) &amp; co&lt;/script&gt;"
        );
        assert_eq!([12_999, 249_000, 3_900_000, 183_600_000].map(span), ["12s", "4m 09s", "1h 05m", "2d 3h"]);
    }
}
