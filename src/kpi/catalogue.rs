//! Every windowed KPI, declared once: the sample a ticket reports, the slice fields it adds
//! into, and the families exported from them with how each combines across instances
//! (`kpi/declare.rs` says how to read an entry). A new KPI is one entry here, the ticket
//! logic that reports its sample (`src/ticket/transitions.rs`) and its row in `docs/metrics.md`.

use crate::event::Survey;
use crate::window::Distribution;

use super::declare::{count, kpis, mean, ratio};
use super::SurveyTally;

/// Whether any real-time contact was answered or abandoned in the slice (or the totals: a
/// macro, so the same closure reads both).
macro_rules! realtime {
    ($s:expr) => {
        $s.realtime_answered + $s.realtime_abandoned > 0
    };
}

/// The tally of one survey.
macro_rules! tally {
    ($s:expr, $survey:expr) => {
        &$s.surveys[$survey.index()]
    };
}

kpis! {
    /// `ticket_created` (volume).
    sample Created;
    field created: u64;
    add(slice) { slice.created += 1 }
    family "ticketpulse_tickets_created" Gauge Sum: "Tickets created in the window (counted at ticket_created.at)." = |s| count(s.created);

    /// First public human agent reply, seconds after creation.
    sample FirstResponse(seconds: f64);
    field first_response: Distribution = buckets &[SlaTarget::FirstResponse];
    add(slice) { slice.first_response.add(seconds) }
    family "ticketpulse_first_response_time_seconds" Summary Sum:
        "First public human agent reply minus creation, recorded at the reply, in the window." = |s| &s.first_response;
    family "ticketpulse_first_response_time_max_seconds" Gauge Max:
        "Largest value of ticketpulse_first_response_time_seconds in the window." = |s| s.first_response.max();

    /// A later public agent reply, seconds after the oldest customer message it answers.
    sample NextReply(seconds: f64);
    field next_reply: Distribution = buckets &[SlaTarget::NextReply];
    add(slice) { slice.next_reply.add(seconds) }
    family "ticketpulse_next_reply_time_seconds" Summary Sum:
        "Later public agent replies minus the oldest customer message each answers, recorded at the reply, in the window." =
        |s| &s.next_reply;
    family "ticketpulse_next_reply_time_max_seconds" Gauge Max:
        "Largest value of ticketpulse_next_reply_time_seconds in the window." = |s| s.next_reply.max();

    /// First `solved`, seconds after creation.
    sample FirstResolution(seconds: f64);
    field first_resolution: Distribution = buckets &[SlaTarget::Resolution];
    add(slice) { slice.first_resolution.add(seconds) }
    family "ticketpulse_first_resolution_time_seconds" Summary Sum:
        "Creation to first solved (once per ticket), recorded at the solve, in the window." = |s| &s.first_resolution;
    family "ticketpulse_first_resolution_time_max_seconds" Gauge Max:
        "Largest value of ticketpulse_first_resolution_time_seconds in the window." = |s| s.first_resolution.max();
    family "ticketpulse_resolution_ratio" Gauge Never:
        "Tickets solved for the first time divided by tickets created, in the window." = |s| ratio(s.first_resolution.count(), s.created);

    /// At the first `solved`: how many public agent replies the ticket had (one-touch = 1).
    sample FirstSolveReplies(replies: u32);
    /// First solves by public agent replies before them: 0, 1, 2 or more.
    field first_solves_by_replies: [u64; 3];
    add(slice) { slice.first_solves_by_replies[replies.min(2) as usize] += 1 }
    family "ticketpulse_first_solved_tickets" Split["agent_replies"] Sum:
        "First solves by the number of public agent replies before them (0, 1, 2+), in the window." = |s, _, emit| {
            if s.first_solves_by_replies.iter().sum::<u64>() > 0 {
                for (replies, n) in ["0", "1", "2+"].into_iter().zip(s.first_solves_by_replies) {
                    emit(&[replies], n as f64);
                }
            }
        };
    family "ticketpulse_first_contact_resolution_ratio" Gauge Never:
        "First solves after exactly one public agent reply divided by first solves after at least one, in the window." = |s| {
            let [_, one, more] = s.first_solves_by_replies;
            ratio(one, one + more)
        };

    /// Every `solved` (again after a reopen), seconds after creation.
    sample FullResolution(seconds: f64);
    field full_resolution: Distribution = buckets &[SlaTarget::Resolution];
    add(slice) { slice.full_resolution.add(seconds) }
    family "ticketpulse_full_resolution_time_seconds" Summary Sum:
        "Creation to each solved (again after a reopen), recorded at the solve, in the window." = |s| &s.full_resolution;
    family "ticketpulse_full_resolution_time_max_seconds" Gauge Max:
        "Largest value of ticketpulse_full_resolution_time_seconds in the window." = |s| s.full_resolution.max();

    /// Every `solved` (again after a reopen), also of a ticket whose creation was never seen:
    /// a solve needs no creation time, so it counts where `FullResolution` cannot.
    sample Solved;
    field solved: u64;
    add(slice) { slice.solved += 1 }
    family "ticketpulse_tickets_solved" Gauge Sum:
        "Every transition to solved or closed (again after a reopen), in the window." = |s| count(s.solved);

    /// `solved`/`closed` → an open status.
    sample Reopened;
    field reopened: u64;
    add(slice) { slice.reopened += 1 }
    family "ticketpulse_tickets_reopened" Gauge Sum:
        "Solved or closed tickets moved back to an open status in the window." = |s| count(s.reopened);
    family "ticketpulse_reopen_ratio" Gauge Never:
        "Reopens divided by solves, in the window." = |s| ratio(s.reopened, s.solved);

    /// A private agent message: an internal note (collaboration behind the ticket).
    sample InternalNote;
    field internal_notes: u64;
    add(slice) { slice.internal_notes += 1 }
    family "ticketpulse_internal_notes" Gauge Sum:
        "Private agent messages (internal notes), at the message time, in the window." = |s| count(s.internal_notes);

    /// Customer left before any public agent reply; `short` when sooner than the threshold;
    /// the wait bucket and `wait` (seconds) when the creation is known (else 0); `realtime` on
    /// a real-time channel.
    sample Abandoned { short: bool, wait_bucket: Option<u8>, wait: f64, realtime: bool };
    field abandoned: u64;
    field short_abandoned: u64;
    /// Every abandon (short ones too) by wait bucket; empty until the first.
    field abandoned_by_wait: Vec<u64>;
    add(slice) {
        if short {
            slice.short_abandoned += 1;
        } else {
            slice.abandoned += 1;
            if realtime {
                slice.realtime_abandoned += 1;
                slice.realtime_abandoned_wait_sum += wait;
            }
        }
        if let Some(b) = wait_bucket {
            let b = usize::from(b);
            if slice.abandoned_by_wait.len() <= b {
                slice.abandoned_by_wait.resize(b + 1, 0);
            }
            slice.abandoned_by_wait[b] += 1;
        }
    }
    family "ticketpulse_abandoned_contacts" Gauge Sum:
        "Contacts abandoned before any public agent reply, not counting short abandons, in the window." = |s| count(s.abandoned);
    family "ticketpulse_short_abandoned_contacts" Gauge Sum:
        "Contacts abandoned sooner than short_abandon_threshold after creation, in the window." = |s| count(s.short_abandoned);
    family "ticketpulse_abandonment_ratio" Gauge Never:
        "Abandoned contacts (short abandons excluded) divided by tickets created, in the window." = |s| ratio(s.abandoned, s.created);
    family "ticketpulse_abandoned_contacts_by_wait" Split["wait"] Sum:
        "Abandoned contacts (short ones too) by wait from creation; bounds from abandonment.wait_buckets, in the window." =
        |s, labels, emit| {
            if !s.abandoned_by_wait.is_empty() {
                for (i, wait) in labels.wait.iter().enumerate() {
                    emit(&[wait], s.abandoned_by_wait.get(i).copied().unwrap_or(0) as f64);
                }
            }
        };

    /// First public agent reply on a real-time channel: the queue wait, and whether it was
    /// within the channel's service-level threshold.
    sample Answered { wait: f64, within: bool };
    /// Real-time contacts answered, answered within the threshold, their total wait, and
    /// abandoned with their total wait (short abandons excluded; counted by `Abandoned`).
    field realtime_answered: u64;
    field realtime_within: u64;
    field realtime_wait_sum: f64;
    field realtime_abandoned: u64;
    field realtime_abandoned_wait_sum: f64;
    add(slice) {
        slice.realtime_answered += 1;
        slice.realtime_within += u64::from(within);
        slice.realtime_wait_sum += wait;
    }
    family "ticketpulse_realtime_answered_contacts" Gauge Sum:
        "Real-time contacts (kpis.realtime.channels) given a first public agent reply, in the window." =
        |s| realtime!(s).then_some(s.realtime_answered as f64);
    family "ticketpulse_realtime_answered_within_threshold_contacts" Gauge Sum:
        "Real-time contacts answered within their channel's service-level threshold, in the window." =
        |s| realtime!(s).then_some(s.realtime_within as f64);
    family "ticketpulse_service_level_ratio" Gauge Never:
        "Real-time contacts answered within the threshold divided by answered plus abandoned (short abandons excluded), in the window." =
        |s| ratio(s.realtime_within, s.realtime_answered + s.realtime_abandoned);
    family "ticketpulse_average_speed_of_answer_seconds" Gauge Never:
        "Total wait of answered real-time contacts divided by answered contacts, in the window." =
        |s| mean(s.realtime_wait_sum, s.realtime_answered);
    total "ticketpulse_realtime_answered_wait_seconds" Counter:
        "Total queue wait of answered real-time contacts, per input partition, as of its last snapshot (numerator of the average speed of answer)." =
        |s| realtime!(s).then_some(s.realtime_wait_sum);

    /// A survey answer with its rating class (see [`super::KpiRules::rating`]).
    sample Survey { survey: Survey, score: f64, rating: u8 };
    /// Per [`Survey`] in declaration order.
    field surveys: [SurveyTally; 4];
    add(slice) {
        let t = &mut slice.surveys[survey.index()];
        t.responses += 1;
        t.score_sum += score;
        t.ratings[usize::from(rating)] += 1;
    }
    family "ticketpulse_survey_responses" Split["survey", "rating"] Sum:
        "Survey responses by survey (csat, ces, nps, esat) and rating class, at the response time, in the window." = |s, _, emit| {
            for survey in Survey::ALL {
                let t = tally!(s, *survey);
                if t.responses > 0 {
                    for (rating, n) in survey.ratings().iter().zip(t.ratings) {
                        emit(&[survey.as_str(), rating], n as f64);
                    }
                }
            }
        };
    family "ticketpulse_survey_score_mean" Split["survey"] Never: "Mean survey score by survey, in the window." = |s, _, emit| {
        for survey in Survey::ALL {
            let t = tally!(s, *survey);
            if let Some(mean) = mean(t.score_sum, t.responses) {
                emit(&[survey.as_str()], mean);
            }
        }
    };
    family "ticketpulse_csat_ratio" Gauge Never: "Good CSAT responses divided by CSAT responses, in the window." =
        |s| ratio(tally!(s, Survey::Csat).ratings[0], tally!(s, Survey::Csat).responses);
    family "ticketpulse_ces_easy_ratio" Gauge Never: "Easy CES responses divided by CES responses, in the window." =
        |s| ratio(tally!(s, Survey::Ces).ratings[0], tally!(s, Survey::Ces).responses);
    family "ticketpulse_esat_ratio" Gauge Never: "Good ESAT (employee satisfaction) responses divided by ESAT responses, in the window." =
        |s| ratio(tally!(s, Survey::Esat).ratings[0], tally!(s, Survey::Esat).responses);
    family "ticketpulse_nps_score" Gauge Never:
        "Net Promoter Score: percent promoters (9-10) minus percent detractors (0-6), -100 to 100, in the window." = |s| {
            let t = tally!(s, Survey::Nps);
            (t.responses > 0).then(|| 100.0 * (t.ratings[0] as f64 - t.ratings[2] as f64) / t.responses as f64)
        };
    total "ticketpulse_survey_score_sum" Split["survey"]:
        "Sum of survey scores by survey, per input partition, as of its last snapshot (numerator of the mean score)." =
        |s, _, emit| {
            for survey in Survey::ALL {
                let t = tally!(s, *survey);
                if t.responses > 0 {
                    emit(&[survey.as_str()], t.score_sum);
                }
            }
        };

    /// Agent handling time logged (`work_logged.seconds`).
    sample WorkLogged(seconds: f64);
    field work_seconds: f64;
    add(slice) { slice.work_seconds += seconds }
    family "ticketpulse_logged_work_seconds" Gauge Sum: "Agent handling time logged by work_logged events, in the window." =
        |s| Some(s.work_seconds);
    family "ticketpulse_average_handle_time_seconds" Gauge Never: "Logged handling time divided by tickets solved, in the window." =
        |s| mean(s.work_seconds, s.solved);

    /// A public message by the customer (`inbound`) or a human agent.
    sample Message { inbound: bool };
    field messages_in: u64;
    field messages_out: u64;
    add(slice) {
        if inbound {
            slice.messages_in += 1;
        } else {
            slice.messages_out += 1;
        }
    }
    family "ticketpulse_messages" Split["direction"] Sum:
        "Public messages by direction: inbound from customers, outbound from human agents, in the window." = |s, _, emit| {
            emit(&["inbound"], s.messages_in as f64);
            emit(&["outbound"], s.messages_out as f64);
        };

    /// A customer message's upstream sentiment score.
    sample Sentiment { score: f64, negative: bool };
    field sentiment_count: u64;
    field sentiment_sum: f64;
    field sentiment_negative: u64;
    add(slice) {
        slice.sentiment_count += 1;
        slice.sentiment_sum += score;
        slice.sentiment_negative += u64::from(negative);
    }
    family "ticketpulse_customer_sentiment_messages" Gauge Sum: "Customer messages carrying a sentiment score, in the window." =
        |s| (s.sentiment_count > 0).then_some(s.sentiment_count as f64);
    family "ticketpulse_customer_sentiment_mean" Gauge Never: "Mean sentiment (-1 to 1) of customer messages, in the window." =
        |s| mean(s.sentiment_sum, s.sentiment_count);
    family "ticketpulse_negative_sentiment_ratio" Gauge Never:
        "Customer messages with sentiment below kpis.sentiment.negative_below divided by scored ones, in the window." =
        |s| ratio(s.sentiment_negative, s.sentiment_count);
}
