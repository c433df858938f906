//! The KPI families, pure: a [`View`] and the [`ExportRules`] in, metric families out. The
//! windowed KPIs are declared in one table, [`KPIS`]; a new KPI is its sample and slice field
//! in [`crate::kpi`], the ticket logic that produces it, and one entry there.

use std::borrow::Cow;
use std::sync::LazyLock;

use crate::agent::{AgentSlice, AgentTally};
use crate::engine::View;
use crate::event::Survey;
use crate::kpi::KpiSlice;
use crate::topic::{chosen_topics, TopicSlice};
use crate::window::Distribution;

use super::encoding::{push_count_sum, push_gauge, push_summary, ratio, seconds, windowed, Families, Kind, LabelSet, Labels};
use super::labels::{DimLabels, ExportRules};

/// A windowed KPI family: one series per window and dimension key (and per value of its own
/// labels), read from the key's slices merged over the window.
pub struct Kpi {
    pub name: &'static str,
    pub help: &'static str,
    /// Labels of its own, after `window` and the dimensions.
    pub labels: &'static [&'static str],
    pub read: Read,
}

/// How a [`Kpi`] reads a merged slice; the variant is the metric type.
pub enum Read {
    /// A gauge; no series where the value is `None` (a ratio or mean without denominator).
    Gauge(fn(&KpiSlice) -> Option<f64>),
    /// A summary (quantiles, `_sum`, `_count`); no series without a sample.
    Summary(fn(&KpiSlice) -> &Distribution),
    /// Gauges under the family's own labels: the function hands each series' label values,
    /// in the order of [`Kpi::labels`], and value to `emit`.
    Split(for<'r> fn(&KpiSlice, &'r ExportRules, emit: &mut Emit<'r, '_>)),
}

/// Takes one series of a [`Read::Split`] family: its own label values (static or borrowed
/// from the rules, `'r`) and its value.
pub type Emit<'r, 'e> = dyn FnMut(&[&'r str], f64) + 'e;

fn count(n: u64) -> Option<f64> {
    Some(n as f64)
}

fn mean(sum: f64, n: u64) -> Option<f64> {
    (n > 0).then(|| sum / n as f64)
}

fn tally(s: &KpiSlice, survey: Survey) -> &crate::kpi::SurveyTally {
    &s.surveys[survey.index()]
}

fn realtime(s: &KpiSlice) -> bool {
    s.realtime_answered + s.realtime_abandoned > 0
}

/// Every windowed KPI family, in the order they are rendered (`docs/metrics.md` lists them).
pub const KPIS: &[Kpi] = &[
    Kpi {
        name: "ticketpulse_tickets_created",
        help: "Tickets created in the window (counted at ticket_created.at).",
        labels: &[],
        read: Read::Gauge(|s| count(s.created)),
    },
    Kpi {
        name: "ticketpulse_first_response_time_seconds",
        help: "First public human agent reply minus creation, recorded at the reply, in the window.",
        labels: &[],
        read: Read::Summary(|s| &s.first_response),
    },
    Kpi {
        name: "ticketpulse_first_response_time_max_seconds",
        help: "Largest value of ticketpulse_first_response_time_seconds in the window.",
        labels: &[],
        read: Read::Gauge(|s| s.first_response.max()),
    },
    Kpi {
        name: "ticketpulse_next_reply_time_seconds",
        help: "Later public agent replies minus the oldest customer message each answers, recorded at the reply, in the window.",
        labels: &[],
        read: Read::Summary(|s| &s.next_reply),
    },
    Kpi {
        name: "ticketpulse_next_reply_time_max_seconds",
        help: "Largest value of ticketpulse_next_reply_time_seconds in the window.",
        labels: &[],
        read: Read::Gauge(|s| s.next_reply.max()),
    },
    Kpi {
        name: "ticketpulse_first_resolution_time_seconds",
        help: "Creation to first solved (once per ticket), recorded at the solve, in the window.",
        labels: &[],
        read: Read::Summary(|s| &s.first_resolution),
    },
    Kpi {
        name: "ticketpulse_first_resolution_time_max_seconds",
        help: "Largest value of ticketpulse_first_resolution_time_seconds in the window.",
        labels: &[],
        read: Read::Gauge(|s| s.first_resolution.max()),
    },
    Kpi {
        name: "ticketpulse_full_resolution_time_seconds",
        help: "Creation to each solved (again after a reopen), recorded at the solve, in the window.",
        labels: &[],
        read: Read::Summary(|s| &s.full_resolution),
    },
    Kpi {
        name: "ticketpulse_full_resolution_time_max_seconds",
        help: "Largest value of ticketpulse_full_resolution_time_seconds in the window.",
        labels: &[],
        read: Read::Gauge(|s| s.full_resolution.max()),
    },
    Kpi {
        name: "ticketpulse_tickets_reopened",
        help: "Solved or closed tickets moved back to an open status in the window.",
        labels: &[],
        read: Read::Gauge(|s| count(s.reopened)),
    },
    Kpi {
        name: "ticketpulse_abandoned_contacts",
        help: "Contacts abandoned before any public agent reply, not counting short abandons, in the window.",
        labels: &[],
        read: Read::Gauge(|s| count(s.abandoned)),
    },
    Kpi {
        name: "ticketpulse_short_abandoned_contacts",
        help: "Contacts abandoned sooner than short_abandon_threshold after creation, in the window.",
        labels: &[],
        read: Read::Gauge(|s| count(s.short_abandoned)),
    },
    Kpi {
        name: "ticketpulse_abandonment_ratio",
        help: "Abandoned contacts (short abandons excluded) divided by tickets created, in the window.",
        labels: &[],
        read: Read::Gauge(|s| ratio(s.abandoned, s.created)),
    },
    // Resolution quality.
    Kpi {
        name: "ticketpulse_tickets_solved",
        help: "Every transition to solved or closed (again after a reopen), in the window.",
        labels: &[],
        read: Read::Gauge(|s| count(s.full_resolution.count())),
    },
    Kpi {
        name: "ticketpulse_resolution_ratio",
        help: "Tickets solved for the first time divided by tickets created, in the window.",
        labels: &[],
        read: Read::Gauge(|s| ratio(s.first_resolution.count(), s.created)),
    },
    Kpi {
        name: "ticketpulse_reopen_ratio",
        help: "Reopens divided by solves, in the window.",
        labels: &[],
        read: Read::Gauge(|s| ratio(s.reopened, s.full_resolution.count())),
    },
    Kpi {
        name: "ticketpulse_first_solved_tickets",
        help: "First solves by the number of public agent replies before them (0, 1, 2+), in the window.",
        labels: &["agent_replies"],
        read: Read::Split(|s, _, emit| {
            if s.first_solves_by_replies.iter().sum::<u64>() > 0 {
                for (replies, n) in ["0", "1", "2+"].into_iter().zip(s.first_solves_by_replies) {
                    emit(&[replies], n as f64);
                }
            }
        }),
    },
    Kpi {
        name: "ticketpulse_first_contact_resolution_ratio",
        help: "First solves after exactly one public agent reply divided by first solves after at least one, in the window.",
        labels: &[],
        read: Read::Gauge(|s| {
            let [_, one, more] = s.first_solves_by_replies;
            ratio(one, one + more)
        }),
    },
    // Real-time channels: service level, speed of answer, abandons by wait.
    Kpi {
        name: "ticketpulse_realtime_answered_contacts",
        help: "Real-time contacts (kpis.realtime.channels) given a first public agent reply, in the window.",
        labels: &[],
        read: Read::Gauge(|s| realtime(s).then_some(s.realtime_answered as f64)),
    },
    Kpi {
        name: "ticketpulse_realtime_answered_within_threshold_contacts",
        help: "Real-time contacts answered within their channel's service-level threshold, in the window.",
        labels: &[],
        read: Read::Gauge(|s| realtime(s).then_some(s.realtime_within as f64)),
    },
    Kpi {
        name: "ticketpulse_service_level_ratio",
        help:
            "Real-time contacts answered within the threshold divided by answered plus abandoned (short abandons excluded), in the window.",
        labels: &[],
        read: Read::Gauge(|s| ratio(s.realtime_within, s.realtime_answered + s.realtime_abandoned)),
    },
    Kpi {
        name: "ticketpulse_average_speed_of_answer_seconds",
        help: "Total wait of answered real-time contacts divided by answered contacts, in the window.",
        labels: &[],
        read: Read::Gauge(|s| mean(s.realtime_wait_sum, s.realtime_answered)),
    },
    Kpi {
        name: "ticketpulse_abandoned_contacts_by_wait",
        help: "Abandoned contacts (short ones too) by wait from creation; bounds from abandonment.wait_buckets, in the window.",
        labels: &["wait"],
        read: Read::Split(|s, rules, emit| {
            if !s.abandoned_by_wait.is_empty() {
                for (i, wait) in rules.wait_buckets.iter().enumerate() {
                    emit(&[wait], s.abandoned_by_wait.get(i).copied().unwrap_or(0) as f64);
                }
            }
        }),
    },
    // Surveys: CSAT, CES and NPS.
    Kpi {
        name: "ticketpulse_survey_responses",
        help: "Survey responses by survey (csat, ces, nps) and rating class, at the response time, in the window.",
        labels: &["survey", "rating"],
        read: Read::Split(|s, _, emit| {
            for survey in Survey::ALL {
                let t = tally(s, *survey);
                if t.responses > 0 {
                    for (rating, n) in survey.ratings().iter().zip(t.ratings) {
                        emit(&[survey.as_str(), rating], n as f64);
                    }
                }
            }
        }),
    },
    Kpi {
        name: "ticketpulse_survey_score_mean",
        help: "Mean survey score by survey, in the window.",
        labels: &["survey"],
        read: Read::Split(|s, _, emit| {
            for survey in Survey::ALL {
                let t = tally(s, *survey);
                if let Some(mean) = mean(t.score_sum, t.responses) {
                    emit(&[survey.as_str()], mean);
                }
            }
        }),
    },
    Kpi {
        name: "ticketpulse_csat_ratio",
        help: "Good CSAT responses divided by CSAT responses, in the window.",
        labels: &[],
        read: Read::Gauge(|s| ratio(tally(s, Survey::Csat).ratings[0], tally(s, Survey::Csat).responses)),
    },
    Kpi {
        name: "ticketpulse_ces_easy_ratio",
        help: "Easy CES responses divided by CES responses, in the window.",
        labels: &[],
        read: Read::Gauge(|s| ratio(tally(s, Survey::Ces).ratings[0], tally(s, Survey::Ces).responses)),
    },
    Kpi {
        name: "ticketpulse_nps_score",
        help: "Net Promoter Score: percent promoters (9-10) minus percent detractors (0-6), -100 to 100, in the window.",
        labels: &[],
        read: Read::Gauge(|s| {
            let t = tally(s, Survey::Nps);
            (t.responses > 0).then(|| 100.0 * (t.ratings[0] as f64 - t.ratings[2] as f64) / t.responses as f64)
        }),
    },
    // Workload: handle time, messages in and out, customer sentiment.
    Kpi {
        name: "ticketpulse_logged_work_seconds",
        help: "Agent handling time logged by work_logged events, in the window.",
        labels: &[],
        read: Read::Gauge(|s| Some(s.work_seconds)),
    },
    Kpi {
        name: "ticketpulse_average_handle_time_seconds",
        help: "Logged handling time divided by tickets solved, in the window.",
        labels: &[],
        read: Read::Gauge(|s| mean(s.work_seconds, s.full_resolution.count())),
    },
    Kpi {
        name: "ticketpulse_messages",
        help: "Public messages by direction: inbound from customers, outbound from human agents, in the window.",
        labels: &["direction"],
        read: Read::Split(|s, _, emit| {
            emit(&["inbound"], s.messages_in as f64);
            emit(&["outbound"], s.messages_out as f64);
        }),
    },
    Kpi {
        name: "ticketpulse_customer_sentiment_messages",
        help: "Customer messages carrying a sentiment score, in the window.",
        labels: &[],
        read: Read::Gauge(|s| (s.sentiment_count > 0).then_some(s.sentiment_count as f64)),
    },
    Kpi {
        name: "ticketpulse_customer_sentiment_mean",
        help: "Mean sentiment (-1 to 1) of customer messages, in the window.",
        labels: &[],
        read: Read::Gauge(|s| mean(s.sentiment_sum, s.sentiment_count)),
    },
    Kpi {
        name: "ticketpulse_negative_sentiment_ratio",
        help: "Customer messages with sentiment below kpis.sentiment.negative_below divided by scored ones, in the window.",
        labels: &[],
        read: Read::Gauge(|s| ratio(s.sentiment_negative, s.sentiment_count)),
    },
];

/// The windowed KPIs of [`KPIS`] (from the View's merged `windows`, labelled and sorted once
/// in `rows`) and the current ticket gauges.
pub fn render_kpis<'a>(out: &mut Families<'a>, view: &'a View, rules: &'a ExportRules, dims: &'a DimLabels) {
    let mut rows: Vec<(Labels<'a>, &KpiSlice)> =
        view.windows.kpi.iter().map(|((w, key), slice)| (rules.window_dims(dims, *w, *key), slice)).collect();
    // In the order a scrape lists series, so sorting each family finds them sorted.
    rows.sort_by(|(a, _), (b, _)| a.iter().map(|(_, v)| v).cmp(b.iter().map(|(_, v)| v)));
    // Stored once, for the series of every family.
    let rows: Vec<(LabelSet, &KpiSlice)> = rows.into_iter().map(|(labels, s)| (out.set(labels), s)).collect();
    for kpi in KPIS {
        match kpi.read {
            Read::Gauge(read) => windowed(out, kpi.name, kpi.help, &rows, read),
            Read::Summary(read) => {
                let mf = &mut out.family(kpi.name, kpi.help, Kind::Summary);
                mf.reserve(rows.len());
                for (labels, s) in &rows {
                    if read(s).count() > 0 {
                        push_summary(mf, *labels, read(s));
                    }
                }
            }
            Read::Split(read) => {
                let mf = &mut out.family(kpi.name, kpi.help, Kind::Gauge);
                for (labels, s) in &rows {
                    read(s, rules, &mut |values, value| {
                        let extra: smallvec::SmallVec<[(&str, &str); 2]> = kpi.labels.iter().copied().zip(values.iter().copied()).collect();
                        push_gauge(mf, *labels, &extra, value);
                    });
                }
            }
        }
    }

    let current = &view.current;
    let mf = &mut out.family("ticketpulse_open_tickets", "Tickets created and not solved or closed, by status (current).", Kind::Gauge);
    for ((status, key), n) in &current.open {
        let labels = mf.set(dims.of(*key));
        push_gauge(mf, labels, &[("status", status.as_str())], *n as f64);
    }
    let mf = &mut out.family(
        "ticketpulse_oldest_unanswered_message_age_seconds",
        "Age of the oldest customer message of an open ticket not yet answered by a public agent message (current).",
        Kind::Gauge,
    );
    for (key, age) in &current.oldest_unanswered {
        let labels = mf.set(dims.of(*key));
        push_gauge(mf, labels, &[], seconds(*age));
    }
    let mf = &mut out.family(
        "ticketpulse_backlog_tickets",
        "Open tickets by age since creation; bucket bounds from kpis.backlog.age_buckets (current).",
        Kind::Gauge,
    );
    for (key, counts) in &current.backlog {
        let labels = mf.set(dims.of(*key));
        for (age, n) in rules.age_buckets.iter().zip(counts) {
            push_gauge(mf, labels, &[("age", age)], *n as f64);
        }
    }
    let mf = &mut out.family("ticketpulse_stale_open_tickets", "Open tickets older than kpis.backlog.stale_after (current).", Kind::Gauge);
    for (key, n) in &current.stale {
        let labels = mf.set(dims.of(*key));
        push_gauge(mf, labels, &[], *n as f64);
    }
}

/// Tickets created by topic. Without an allow-list the labels are the `top` topics by count
/// over the longest window, across every partition of this process; the rest is `other`.
pub fn render_topics<'a>(out: &mut Families<'a>, view: &'a View, rules: &'a ExportRules) {
    static EMPTY: LazyLock<TopicSlice> = LazyLock::new(TopicSlice::default);
    let longest = view.windows.topic.get(&(rules.longest, ())).unwrap_or(&EMPTY);
    let chosen = chosen_topics(longest, &rules.topic_allow, rules.topics_top);
    let mf = &mut out.family(
        "ticketpulse_tickets_created_by_topic",
        "Tickets created by topic (kpis.topics: an allow-list or the most frequent; the rest is other), in the window.",
        Kind::Gauge,
    );
    for ((w, ()), slice) in &view.windows.topic {
        let window = mf.set([("window", Cow::Borrowed(rules.windows[*w].as_str()))]);
        for (topic, n) in slice.fold(&chosen) {
            push_gauge(mf, window, &[("topic", topic)], n as f64);
        }
    }
}

/// Per-agent KPIs, only when `kpis.agents` is enabled. Without an allow-list the labels are
/// the `top` agents by activity over the longest window, across every partition of this
/// process; the rest is `other`. Every row has every family, so a table joins them.
pub fn render_agents<'a>(out: &mut Families<'a>, view: &'a View, rules: &'a ExportRules) {
    if !rules.agents.enabled {
        return;
    }
    static EMPTY: LazyLock<AgentSlice> = LazyLock::new(AgentSlice::default);
    let chosen = rules.agents.chosen(view.windows.agent.get(&(rules.longest, ())).unwrap_or(&EMPTY));
    let mut rows: Vec<(LabelSet, AgentTally)> = Vec::new();
    for ((w, ()), slice) in &view.windows.agent {
        let window = &rules.windows[*w];
        for (agent, tally) in slice.fold(&chosen) {
            rows.push((out.set([("window", Cow::Borrowed(window.as_str())), ("agent", Cow::Borrowed(agent))]), tally));
        }
    }
    windowed(out, "ticketpulse_agent_replies", "Public messages by the agent (kpis.agents), in the window.", &rows, |t| count(t.replies));
    let mf = &mut out.family(
        "ticketpulse_agent_first_response_time_seconds",
        "First responses the agent gave (count) and their first response times (sum; mean = sum / count), in the window.",
        Kind::Summary,
    );
    for (labels, t) in &rows {
        push_count_sum(mf, *labels, t.first_responses, t.first_response_seconds);
    }
    windowed(
        out,
        "ticketpulse_agent_tickets_solved",
        "Solves (every transition to solved or closed) credited to the agent of the ticket's last public reply, in the window.",
        &rows,
        |t| count(t.solves),
    );
    windowed(
        out,
        "ticketpulse_agent_logged_work_seconds",
        "Handling time logged by work_logged events of the agent, in the window.",
        &rows,
        |t| Some(t.work_seconds),
    );
    windowed(
        out,
        "ticketpulse_agent_csat_responses",
        "CSAT responses credited to the agent of the ticket's last public reply at response time, in the window.",
        &rows,
        |t| count(t.csat_responses),
    );
    windowed(
        out,
        "ticketpulse_agent_csat_good_responses",
        "Good CSAT responses credited to the agent of the ticket's last public reply at response time, in the window.",
        &rows,
        |t| count(t.csat_good),
    );
}

/// Cost per resolution and per contact: the configured cost per hour over the window's
/// length, divided by all solves or all tickets created in the window.
pub fn render_cost<'a>(out: &mut Families<'a>, view: &View, rules: &'a ExportRules) {
    let Some(per_hour) = rules.cost_per_hour else { return };
    // (solved, created) per window, over every dimension key.
    let mut totals = vec![(0u64, 0u64); rules.windows.len()];
    for ((w, _), s) in &view.windows.kpi {
        totals[*w].0 += s.full_resolution.count();
        totals[*w].1 += s.created;
    }
    let cost = |w: usize| per_hour * rules.window_ms[w] as f64 / 3_600_000.0;
    type PickTotal = fn(&(u64, u64)) -> u64;
    let families: [(&str, &str, PickTotal); 2] = [
        (
            "ticketpulse_cost_per_resolution",
            "kpis.cost.per_hour times the window length divided by tickets solved, in the window (configured currency).",
            |(solved, _)| *solved,
        ),
        (
            "ticketpulse_cost_per_contact",
            "kpis.cost.per_hour times the window length divided by tickets created, in the window (configured currency).",
            |(_, created)| *created,
        ),
    ];
    for (name, help, denominator) in families {
        let mf = &mut out.family(name, help, Kind::Gauge);
        for (w, total) in totals.iter().enumerate() {
            if denominator(total) > 0 {
                let window = mf.set([("window", Cow::Borrowed(rules.windows[w].as_str()))]);
                push_gauge(mf, window, &[], cost(w) / denominator(total) as f64);
            }
        }
    }
}
