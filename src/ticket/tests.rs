//! Unit tests of the whole state machine: events through [`Ticket::apply`], samples and gauges out.

use super::*;
use crate::base::Millis;
use crate::config::{Config, DimensionsConfig};
use crate::dimensions::Catalog;
use crate::event::{Author, EventBody, Priority, Requester, Status, TicketSnapshot};
use crate::kpi::{KpiRules, Sample};
use crate::sla::{SlaEffects, SlaOutcome, SlaPolicies, SlaSample, SlaTarget, TargetGauge};

fn rules() -> TicketRules {
    let config = Config::default();
    let catalog = Catalog::new(&DimensionsConfig::default());
    TicketRules { kpi: KpiRules::new(&config, &catalog), catalog, policies: SlaPolicies::new(&config.sla).unwrap() }
}

fn created(requester: Requester) -> EventBody {
    EventBody::TicketCreated { channel: "chat".into(), priority: Priority::Urgent, team: None, topic: None, requester }
}

fn msg(author: Author, public: bool) -> EventBody {
    EventBody::Message { author, public, sentiment: None, agent_id: None }
}

fn status(status: Status) -> EventBody {
    EventBody::StatusChanged { status }
}

/// Applies `(at_seconds, body)` in order and returns every sample but the message counts.
fn run(events: &[(i64, EventBody)]) -> (Ticket, Vec<Sample>) {
    let (t, out) = run_effects(events);
    (t, out.samples.into_iter().filter(|s| !matches!(s, Sample::Message { .. })).collect())
}

fn run_effects(events: &[(i64, EventBody)]) -> (Ticket, Effects) {
    run_with(&rules(), events)
}

fn run_with(rules: &TicketRules, events: &[(i64, EventBody)]) -> (Ticket, Effects) {
    let mut t = Ticket::new(rules.catalog.unknown(), 0);
    let mut out = Effects::default();
    for (at, body) in events {
        t.apply(body, at * 1000, rules, &mut out);
    }
    (t, out)
}

fn met(target: SlaTarget, seconds: f64) -> SlaSample {
    // Default policy order: urgent, high, normal, low.
    SlaSample { policy: 0, target, outcome: Some(SlaOutcome::Met), business_seconds: Some(seconds) }
}

#[test]
fn bots_system_and_private_notes_never_count_as_first_response() {
    let (_, samples) = run(&[
        (0, created(Requester::Customer)),
        (10, msg(Author::Bot, true)),
        (20, msg(Author::System, true)),
        (30, msg(Author::Agent, false)),
        (90, msg(Author::Agent, true)),
        (100, msg(Author::Agent, true)),
    ]);
    // The private note at 30 s is an internal note, nothing else. The 100 s reply answers
    // nothing new: no next-reply sample. Chat is a real-time channel with a 20 s service-level
    // threshold: answered after 90 s, not within it.
    assert_eq!(
        samples,
        [Sample::Created, Sample::InternalNote, Sample::FirstResponse(90.0), Sample::Answered { wait: 90.0, within: false }]
    );
    let (_, out) = run_effects(&[(0, created(Requester::Customer)), (90, msg(Author::Agent, true))]);
    // Urgent first-response target is 30 min: met at 90 s.
    assert_eq!(out.sla.samples, [met(SlaTarget::FirstResponse, 90.0)]);
}

/// Only an agent's private message is an internal note: a bot's, the system's or a
/// customer's private message is not, nor any public one.
#[test]
fn internal_notes_are_private_agent_messages() {
    let (_, samples) = run(&[
        (0, created(Requester::Customer)),
        (10, msg(Author::Agent, false)),
        (20, msg(Author::Bot, false)),
        (30, msg(Author::System, false)),
        (40, msg(Author::Customer, false)),
        (50, msg(Author::Agent, false)),
    ]);
    assert_eq!(samples, [Sample::Created, Sample::InternalNote, Sample::InternalNote]);
}

#[test]
fn next_reply_starts_at_the_oldest_unanswered_customer_message() {
    let (t, out) = run_effects(&[
        (0, created(Requester::Customer)),
        (60, msg(Author::Agent, true)),
        (100, msg(Author::Customer, true)),
        (130, msg(Author::Customer, true)),
        (150, msg(Author::Bot, true)),
        (400, msg(Author::Agent, true)),
        (500, msg(Author::Customer, true)),
    ]);
    let out_msg = Sample::Message { inbound: false };
    let in_msg = Sample::Message { inbound: true };
    assert_eq!(
        out.samples,
        [
            Sample::Created,
            out_msg,
            Sample::FirstResponse(60.0),
            Sample::Answered { wait: 60.0, within: false },
            in_msg,
            in_msg,
            out_msg,
            Sample::NextReply(300.0),
            in_msg
        ]
    );
    // Urgent next reply: 1 h, met after 300 s.
    assert_eq!(out.sla.samples, [met(SlaTarget::FirstResponse, 60.0), met(SlaTarget::NextReply, 300.0)]);
    assert_eq!(t.waiting_since, Some(500_000));
}

#[test]
fn agent_created_ticket_skips_the_opening_message() {
    let (_, samples) = run(&[(0, created(Requester::Agent)), (5, msg(Author::Agent, true)), (600, msg(Author::Agent, true))]);
    assert_eq!(samples[1], Sample::FirstResponse(600.0));
}

#[test]
fn first_and_full_resolution_with_reopen_and_close() {
    let (t, samples) = run(&[
        (0, created(Requester::Customer)),
        (100, status(Status::Solved)),
        (200, status(Status::Open)),
        (400, status(Status::Solved)),
        (500, status(Status::Closed)),
    ]);
    assert_eq!(
        samples,
        [
            Sample::Created,
            Sample::FirstResolution(100.0),
            Sample::FirstSolveReplies(0),
            Sample::FullResolution(100.0),
            Sample::Solved,
            Sample::Reopened,
            Sample::FullResolution(400.0),
            Sample::Solved,
        ]
    );
    assert!(!t.is_open());
}

#[test]
fn closed_without_solved_counts_as_solved() {
    let (_, samples) = run(&[(0, created(Requester::Customer)), (50, status(Status::Closed))]);
    assert_eq!(samples[1..4], [Sample::FirstResolution(50.0), Sample::FirstSolveReplies(0), Sample::FullResolution(50.0)]);
}

#[test]
fn abandonment_short_long_and_after_reply() {
    let (_, short) = run(&[(0, created(Requester::Customer)), (9, EventBody::ContactAbandoned)]);
    // Wait buckets 0s-10s, 10s-30s, ...: 9 s is bucket 0, 10 s too (bounds are inclusive).
    assert_eq!(short[1], Sample::Abandoned { short: true, wait_bucket: Some(0), wait: 9.0, realtime: true });
    let (_, long) = run(&[(0, created(Requester::Customer)), (10, EventBody::ContactAbandoned), (20, EventBody::ContactAbandoned)]);
    assert_eq!(long[1..], [Sample::Abandoned { short: false, wait_bucket: Some(0), wait: 10.0, realtime: true }]);
    let (_, answered) = run(&[(0, created(Requester::Customer)), (5, msg(Author::Agent, true)), (60, EventBody::ContactAbandoned)]);
    assert!(!answered.iter().any(|s| matches!(s, Sample::Abandoned { .. })));
}

/// The samples but the message counts.
fn kpis(out: &Effects) -> Vec<Sample> {
    out.samples.iter().copied().filter(|s| !matches!(s, Sample::Message { .. })).collect()
}

const ABANDONED_AT_40S: Sample = Sample::Abandoned { short: false, wait_bucket: Some(2), wait: 40.0, realtime: true };

/// The urgent policy: first response 30 min, next reply 1 h, resolution 8 h.
const RESOLUTION: Millis = 28_800_000;

#[test]
fn an_abandon_ends_the_contact_its_targets_neither_met_nor_breached() {
    let rules = rules();
    let (mut t, out) = run_effects(&[(0, created(Requester::Customer)), (40, EventBody::ContactAbandoned)]);
    // Counted once as before: 40 s is in the 30s-1m wait bucket, chat is real-time.
    assert_eq!(out.samples, [Sample::Created, ABANDONED_AT_40S]);
    assert!(out.sla.samples.is_empty());
    assert!(!t.is_open());
    assert_eq!(t.gauge_share(&rules.policies), None, "in no gauge: open, backlog, SLA");
    assert_eq!(t.sla.next_deadline(), None, "nothing left to breach");
    assert_eq!(t.next_due(3_600_000), Some(3_640_000), "forgotten a retention after its last event");
    let mut sla = SlaEffects::default();
    t.sla.on_timer(1_800_000, &mut sla);
    assert!(sla.samples.is_empty(), "the old first-response deadline finds nothing");
    // A second abandon counts nothing and changes nothing.
    let mut out = Effects::default();
    t.apply(&EventBody::ContactAbandoned, 50_000, &rules, &mut out);
    assert!(out.samples.is_empty() && !t.is_open());
}

#[test]
fn an_agent_reply_after_an_abandon_opens_it_again_without_meeting_first_response() {
    let rules = rules();
    let (t, out) = run_effects(&[(0, created(Requester::Customer)), (40, EventBody::ContactAbandoned), (600, msg(Author::Agent, true))]);
    // The KPIs as before: the follow-up is the first response, 600 s after creation.
    assert_eq!(
        kpis(&out),
        [Sample::Created, ABANDONED_AT_40S, Sample::FirstResponse(600.0), Sample::Answered { wait: 600.0, within: false }]
    );
    assert!(out.sla.samples.is_empty(), "the stopped first-response target is not met");
    let share = t.gauge_share(&rules.policies).unwrap();
    assert_eq!((share.status, share.waiting_since), (Status::New, None));
    // Resolution runs on from the 40 s it had: due 600 s + 8 h − 40 s.
    assert_eq!(share.targets, [None, None, Some(TargetGauge::Running(600_000 + RESOLUTION - 40_000))]);
}

#[test]
fn a_status_change_after_an_abandon_opens_it_again_and_resolution_runs_on() {
    let rules = rules();
    let (t, out) = run_effects(&[(0, created(Requester::Customer)), (40, EventBody::ContactAbandoned), (300, status(Status::Open))]);
    let share = t.gauge_share(&rules.policies).unwrap();
    // The customer's request from creation is still unanswered; no first-response target.
    assert_eq!((share.status, share.waiting_since), (Status::Open, Some(0)));
    assert_eq!(share.targets, [None, None, Some(TargetGauge::Running(300_000 + RESOLUTION - 40_000))]);
    assert!(out.sla.samples.is_empty());
    // Pending pauses it; the reply meets nothing; solved while paused: 40 s + 100 s ran.
    let (t, out) = run_effects(&[
        (0, created(Requester::Customer)),
        (40, EventBody::ContactAbandoned),
        (300, status(Status::Open)),
        (400, status(Status::Pending)),
        (1000, msg(Author::Agent, true)),
        (2000, status(Status::Solved)),
    ]);
    assert_eq!(out.sla.samples, [met(SlaTarget::Resolution, 140.0)]);
    assert_eq!(kpis(&out)[2..4], [Sample::FirstResponse(1000.0), Sample::Answered { wait: 1000.0, within: false }]);
    assert!(!t.is_open());
    // Closed straight after the abandon (what agents do with a missed chat): resolution
    // is neither met nor breached; the solve KPIs are as before.
    let (t, out) = run_effects(&[(0, created(Requester::Customer)), (40, EventBody::ContactAbandoned), (41, status(Status::Closed))]);
    assert_eq!(
        kpis(&out),
        [
            Sample::Created,
            ABANDONED_AT_40S,
            Sample::FirstResolution(41.0),
            Sample::FirstSolveReplies(0),
            Sample::FullResolution(41.0),
            Sample::Solved
        ]
    );
    assert!(out.sla.samples.is_empty());
    assert!(!t.is_open());
}

#[test]
fn an_abandon_stops_a_running_next_reply_and_the_customer_coming_back_starts_one() {
    let rules = rules();
    let events = [
        (0, created(Requester::Customer)),
        (60, msg(Author::Agent, true)),
        (100, msg(Author::Customer, true)),
        (130, EventBody::ContactAbandoned),
    ];
    let (t, out) = run_effects(&events);
    // Answered before: not an abandon. The contact ends all the same; the next reply due
    // at 100 s + 1 h is gone.
    assert!(!kpis(&out).iter().any(|s| matches!(s, Sample::Abandoned { .. })));
    assert_eq!(out.sla.samples, [met(SlaTarget::FirstResponse, 60.0)]);
    assert!(!t.is_open());
    assert_eq!(t.sla.next_deadline(), None);
    // A late agent reply: the next reply time as before (from the 100 s message), no outcome.
    let (t, out) = run_effects(&[events.as_slice(), &[(5000, msg(Author::Agent, true))]].concat());
    assert_eq!(kpis(&out)[3..], [Sample::NextReply(4900.0)]);
    assert_eq!(out.sla.samples, [met(SlaTarget::FirstResponse, 60.0)]);
    assert_eq!(t.gauge_share(&rules.policies).unwrap().targets, [None, None, Some(TargetGauge::Running(5_000_000 + RESOLUTION - 130_000))]);
    // The customer writes again at 1000 s: a next reply from then, though the 100 s message
    // is still the oldest unanswered one.
    let (t, _) = run_effects(&[events.as_slice(), &[(1000, msg(Author::Customer, true))]].concat());
    let share = t.gauge_share(&rules.policies).unwrap();
    assert_eq!(share.waiting_since, Some(100_000));
    assert_eq!(
        share.targets,
        [None, Some(TargetGauge::Running(1_000_000 + 3_600_000)), Some(TargetGauge::Running(1_000_000 + RESOLUTION - 130_000))]
    );
}

#[test]
fn an_abandon_after_a_breach_keeps_it_counted_and_a_solved_ticket_is_not_ended() {
    let rules = rules();
    let mut t = Ticket::new(rules.catalog.unknown(), 0);
    let mut out = Effects::default();
    t.apply(&created(Requester::Customer), 0, &rules, &mut out);
    t.sla.on_timer(1_800_000, &mut out.sla);
    assert_eq!(out.sla.samples.len(), 1, "first response breached at 30 min");
    for (at, body) in [(2_000_000, EventBody::ContactAbandoned), (3_000_000, status(Status::Open))] {
        t.apply(&body, at, &rules, &mut out);
    }
    // Open again: the breached first response is stopped, not breached again.
    assert_eq!(out.sla.samples.len(), 1);
    assert_eq!(
        t.gauge_share(&rules.policies).unwrap().targets,
        [None, None, Some(TargetGauge::Running(3_000_000 + RESOLUTION - 2_000_000))]
    );
    // Solved, then an abandon, then reopened: a reopen as ever (resolution runs on).
    let (t, _) = run_effects(&[
        (0, created(Requester::Customer)),
        (50, status(Status::Solved)),
        (60, EventBody::ContactAbandoned),
        (100, status(Status::Open)),
    ]);
    assert_eq!(t.gauge_share(&rules.policies).unwrap().targets, [None, None, Some(TargetGauge::Running(100_000 + RESOLUTION - 50_000))]);
}

#[test]
fn an_abandon_applied_before_its_creation_still_ends_the_contact() {
    let (t, out) = run_effects(&[(40, EventBody::ContactAbandoned), (0, created(Requester::Customer))]);
    // The KPIs as before: no wait known, no channel yet.
    assert_eq!(out.samples, [Sample::Abandoned { short: false, wait_bucket: None, wait: 0.0, realtime: false }, Sample::Created]);
    assert!(!t.is_open());
    assert_eq!(t.sla.next_deadline(), None);
}

#[test]
fn with_ends_contact_false_an_abandoned_contact_stays_open() {
    let mut rules = rules();
    rules.kpi.abandon_ends_contact = false;
    let (t, out) = run_with(&rules, &[(0, created(Requester::Customer)), (40, EventBody::ContactAbandoned)]);
    assert_eq!(out.samples, [Sample::Created, ABANDONED_AT_40S]);
    assert!(t.is_open());
    let share = t.gauge_share(&rules.policies).unwrap();
    assert_eq!(share.targets, [Some(TargetGauge::Running(1_800_000)), None, Some(TargetGauge::Running(RESOLUTION))]);
    assert_eq!(t.next_due(3_600_000), Some(1_800_000));
}

#[test]
fn gauge_share_follows_status_pause_and_breach() {
    let rules = rules();
    let p = &rules.policies;
    let mut t = Ticket::new(rules.catalog.unknown(), 0);
    let mut out = Effects::default();
    assert_eq!(t.gauge_share(p), None);
    t.apply(&created(Requester::Customer), 0, &rules, &mut out);
    let running = |first_response, resolution| [Some(TargetGauge::Running(first_response)), None, Some(TargetGauge::Running(resolution))];
    assert_eq!(t.gauge_share(p).unwrap().targets, running(1_800_000, 28_800_000));
    assert_eq!(t.next_due(3_600_000), Some(1_800_000), "the first deadline; open tickets are not evicted");
    t.sla.on_deadline(SlaTarget::FirstResponse, 1_800_000);
    t.apply(&status(Status::OnHold), 1_900_000, &rules, &mut out);
    let share = t.gauge_share(p).unwrap();
    assert_eq!((share.status, share.policy, share.waiting_since), (Status::OnHold, Some(0), Some(0)));
    assert_eq!(share.targets, [Some(TargetGauge::Breached), None, Some(TargetGauge::Paused)]);
    t.apply(&status(Status::Open), 2_000_000, &rules, &mut out);
    // 1 900 s of the 8 h ran before the pause: due 2 000 s + 26 900 s.
    assert_eq!(t.gauge_share(p).unwrap().targets[2], Some(TargetGauge::Running(28_900_000)));
    t.apply(&status(Status::Solved), 2_100_000, &rules, &mut out);
    assert_eq!(t.gauge_share(p), None);
}

#[test]
fn catalogue_samples_touches_surveys_work_and_sentiment() {
    use crate::event::Survey;
    let survey = |survey, score| EventBody::SurveyResponse { survey, score };
    let customer = |sentiment| EventBody::Message { author: Author::Customer, public: true, sentiment: Some(sentiment), agent_id: None };
    let (_, samples) = run(&[
        (0, created(Requester::Agent)),
        (1, msg(Author::Agent, true)), // the opening message: not a reply
        (60, customer(-0.5)),
        (70, EventBody::Message { author: Author::Customer, public: false, sentiment: Some(0.2), agent_id: None }),
        (100, msg(Author::Agent, true)),
        (110, EventBody::WorkLogged { seconds: 300.0, agent_id: None }),
        (200, status(Status::Solved)),
        (300, survey(Survey::Csat, 4.0)),
        (301, survey(Survey::Csat, 3.0)),
        (302, survey(Survey::Ces, 5.0)),
        (303, survey(Survey::Nps, 9.0)),
        (304, survey(Survey::Nps, 7.0)),
        (305, survey(Survey::Nps, 6.0)),
    ]);
    assert_eq!(
        samples,
        [
            Sample::Created,
            // The -0.3 default threshold: -0.5 is negative, 0.2 is not; both count.
            Sample::Sentiment { score: -0.5, negative: true },
            Sample::Sentiment { score: 0.2, negative: false },
            // Agent-opened: the 100 s message is the first response, 100 s after creation,
            // and the ticket's only reply (one-touch).
            Sample::FirstResponse(100.0),
            Sample::Answered { wait: 100.0, within: false },
            Sample::WorkLogged(300.0),
            Sample::FirstResolution(200.0),
            Sample::FirstSolveReplies(1),
            Sample::FullResolution(200.0),
            Sample::Solved,
            Sample::Survey { survey: Survey::Csat, score: 4.0, rating: 0 },
            Sample::Survey { survey: Survey::Csat, score: 3.0, rating: 1 },
            Sample::Survey { survey: Survey::Ces, score: 5.0, rating: 0 },
            Sample::Survey { survey: Survey::Nps, score: 9.0, rating: 0 },
            Sample::Survey { survey: Survey::Nps, score: 7.0, rating: 1 },
            Sample::Survey { survey: Survey::Nps, score: 6.0, rating: 2 },
        ]
    );
    // A chat answered at exactly its 20 s threshold is within it.
    let (_, samples) = run(&[(0, created(Requester::Customer)), (20, msg(Author::Agent, true))]);
    assert_eq!(samples[2], Sample::Answered { wait: 20.0, within: true });
}

#[test]
fn last_agent_is_the_author_of_the_last_public_agent_message() {
    let agent = |public: bool, id: Option<&str>| EventBody::Message {
        author: Author::Agent,
        public,
        sentiment: None,
        agent_id: id.map(String::from),
    };
    let bot = EventBody::Message { author: Author::Bot, public: true, sentiment: None, agent_id: Some("bot-1".into()) };
    let (t, _) =
        run(&[(0, created(Requester::Customer)), (10, agent(true, Some("a1"))), (20, agent(false, Some("a2"))), (30, bot.clone())]);
    // Private notes and bots are not replies.
    assert_eq!(t.last_agent(), Some("a1"));
    let (t, _) = run(&[(0, created(Requester::Customer)), (10, agent(true, Some("a1"))), (20, agent(true, Some("a2")))]);
    assert_eq!(t.last_agent(), Some("a2"));
    // A reply that names no agent: the last reply's agent is not known.
    let (t, _) = run(&[(0, created(Requester::Customer)), (10, agent(true, Some("a1"))), (20, agent(true, None))]);
    assert_eq!(t.last_agent(), None);
}

fn snapshot(status: Status) -> EventBody {
    EventBody::TicketSnapshot(Box::new(TicketSnapshot {
        created_at: 0,
        status,
        channel: "chat".into(),
        priority: Priority::Urgent,
        team: None,
        topic: None,
        requester: Requester::Customer,
        first_response_at: None,
        waiting_since: Some(0),
        solved_at: None,
        paused: 0,
        last_agent_id: None,
    }))
}

#[test]
fn a_snapshot_seeds_an_unknown_ticket_and_later_events_count_from_its_creation() {
    let rules = rules();
    let (t, out) = run_effects(&[(600, snapshot(Status::Open))]);
    assert!(out.samples.is_empty() && out.sla.samples.is_empty(), "the snapshot itself counts nothing");
    let share = t.gauge_share(&rules.policies).unwrap();
    // Urgent: first response due 30 min after the creation at 0, resolution 8 h.
    assert_eq!((share.created_at, share.waiting_since), (0, Some(0)));
    assert_eq!(share.targets, [Some(TargetGauge::Running(1_800_000)), None, Some(TargetGauge::Running(RESOLUTION))]);
    let (_, out) = run_effects(&[(600, snapshot(Status::Open)), (900, msg(Author::Agent, true)), (1200, status(Status::Solved))]);
    // The reply is the first response, 900 s after the creation (chat's 20 s threshold
    // missed); the solve a first and full resolution of 1200 s with no `agent_replies`
    // class (the replies before the snapshot are not known), and a solve.
    assert_eq!(
        kpis(&out),
        [
            Sample::FirstResponse(900.0),
            Sample::Answered { wait: 900.0, within: false },
            Sample::FirstResolution(1200.0),
            Sample::FullResolution(1200.0),
            Sample::Solved
        ]
    );
    assert_eq!(out.sla.samples, [met(SlaTarget::FirstResponse, 900.0), met(SlaTarget::Resolution, 1200.0)]);
    // Seeded at 40 min: the first response was due at 30 min, breached with no outcome
    // counted (before ticketpulse read it), its deadline kept.
    let (t, out) = run_effects(&[(2400, snapshot(Status::Open))]);
    assert!(out.sla.samples.is_empty());
    assert_eq!(t.gauge_share(&rules.policies).unwrap().targets[0], Some(TargetGauge::Breached));
    assert_eq!(t.sla.deadline(SlaTarget::FirstResponse), Some(1_800_000));
}

#[test]
fn a_snapshot_of_a_known_ticket_adopts_what_differs_and_counts_nothing() {
    let rules = rules();
    let (t, out) = run_effects(&[(0, created(Requester::Customer)), (100, snapshot(Status::Open))]);
    // Same creation, channel, priority, team; status new here, open there.
    let found: Vec<_> = SnapshotField::ALL.into_iter().filter(|f| out.differences[f.index()]).collect();
    assert_eq!(found, [SnapshotField::Status]);
    assert_eq!(kpis(&out), [Sample::Created], "nothing counted for the snapshot");
    assert_eq!(t.gauge_share(&rules.policies).unwrap().status, Status::Open);
    // Solved there: adopted without a solve counted, the clocks stopped with no outcome.
    let (t, out) = run_effects(&[(0, created(Requester::Customer)), (100, snapshot(Status::Solved))]);
    assert_eq!(kpis(&out), [Sample::Created]);
    assert!(out.sla.samples.is_empty());
    assert!(!t.is_open());
}

/// A snapshot read at 100 s reaches the engine after the solve of 200 s was applied (late):
/// it states an older ticket. Its status difference is reported; the ticket stays solved
/// (adopting "open" would reopen it without a reopen counted, and run its clocks again).
#[test]
fn a_snapshot_older_than_the_ticket_reports_and_adopts_nothing() {
    let (t, out) = run_effects(&[(0, created(Requester::Customer)), (200, status(Status::Solved)), (100, snapshot(Status::Open))]);
    let found: Vec<_> = SnapshotField::ALL.into_iter().filter(|f| out.differences[f.index()]).collect();
    assert_eq!(found, [SnapshotField::Status]);
    assert!(!t.is_open());
    assert_eq!(t.status, Some(Status::Solved));
}

#[test]
fn duplicates_are_remembered_up_to_the_capacity() {
    let mut t = Ticket::new(rules().catalog.unknown(), 0);
    assert!(t.remember(7, 2));
    assert!(!t.remember(7, 2));
    assert!(t.remember(8, 2));
    assert!(!t.remember(7, 2), "7 and 8 fit");
    assert!(t.remember(9, 2), "evicts 7, the oldest");
    assert!(!t.remember(8, 2));
    assert!(t.remember(7, 2), "7 was forgotten");
    assert_eq!(t.seen, vec![9, 7]);
}
