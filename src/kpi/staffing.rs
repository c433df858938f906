//! Staffing models, pure: how many agents a queue needs for a service-level objective
//! (Erlang C, M/M/N) and what a given number of agents can expect when customers give up
//! (Erlang A, M/M/N+M). The exporter feeds them what a window measured (`exporter/staffing.rs`);
//! `docs/metrics.md` states the assumptions and when they mislead.
//!
//! Numerics: no factorial or power is ever formed. Erlang C goes through the Erlang B
//! recurrence (every term in [0, 1]); Erlang A through the stationary distribution of its
//! birth-death chain in log space and, for the service level, uniformization of the waiting
//! customer's chain, whose terms are all positive (no alternating sums to cancel).

/// Erlang B blocking probability with `n` servers and offered load `a` Erlangs, by the
/// recurrence B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)).
pub(crate) fn erlang_b(n: u32, a: f64) -> f64 {
    (1..=n).fold(1.0, |b, k| a * b / (f64::from(k) + a * b))
}

/// Erlang C from Erlang B: the probability that a contact waits, C = n B / (n - a (1 - B));
/// 1 when the agents cannot keep up (n <= a).
fn erlang_c_from_b(n: u32, a: f64, b: f64) -> f64 {
    let n = f64::from(n);
    if n <= a {
        1.0
    } else {
        n * b / (n - a * (1.0 - b))
    }
}

/// Erlang C: the probability that a contact waits with `n` agents and `a` Erlangs.
pub(crate) fn erlang_c(n: u32, a: f64) -> f64 {
    erlang_c_from_b(n, a, erlang_b(n, a))
}

/// P(wait <= t) = 1 - C exp(-(n - a) t / aht); 0 when n <= a (the queue grows without bound).
fn service_level_from_c(n: u32, a: f64, c: f64, aht: f64, t: f64) -> f64 {
    let n = f64::from(n);
    if n <= a {
        0.0
    } else {
        1.0 - c * (-(n - a) * t / aht).exp()
    }
}

/// Erlang C service level: the share of contacts answered within `t` seconds with `n` agents,
/// `a` Erlangs and a mean handle time of `aht` seconds.
pub fn service_level(n: u32, a: f64, aht: f64, t: f64) -> f64 {
    service_level_from_c(n, a, erlang_c(n, a), aht, t)
}

/// Erlang C average speed of answer (mean wait of all contacts), C aht / (n - a) seconds;
/// `None` when n <= a.
pub(crate) fn average_speed_of_answer(n: u32, a: f64, aht: f64) -> Option<f64> {
    (f64::from(n) > a).then(|| erlang_c(n, a) * aht / (f64::from(n) - a))
}

/// A service-level objective and occupancy ceiling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective {
    /// Share of contacts to answer within `threshold_seconds`, in (0, 1).
    pub service_level: f64,
    pub threshold_seconds: f64,
    /// Largest share of time agents may be busy, in (0, 1].
    pub max_occupancy: f64,
}

/// The smallest number of agents that meets `objective` by Erlang C with `a` Erlangs and a
/// mean handle time of `aht` seconds, and keeps occupancy a / n at most the ceiling: 0 without
/// load; `None` for inputs that are not finite and positive, or a need beyond
/// 10 a + 1000 agents (an objective no staffing meets in practice).
pub fn required_agents(a: f64, aht: f64, objective: &Objective) -> Option<u32> {
    if a == 0.0 {
        return Some(0);
    }
    if !(a.is_finite() && a > 0.0 && aht.is_finite() && aht > 0.0) {
        return None;
    }
    let floor = (a / objective.max_occupancy).ceil();
    let cap = 10.0 * a.ceil() + 1000.0;
    let mut b = 1.0;
    let mut n = 0u32;
    while f64::from(n) < cap {
        n += 1;
        b = a * b / (f64::from(n) + a * b);
        if f64::from(n) >= floor && f64::from(n) > a {
            let c = erlang_c_from_b(n, a, b);
            if service_level_from_c(n, a, c, aht, objective.threshold_seconds) >= objective.service_level {
                return Some(n);
            }
        }
    }
    None
}

/// What `n` agents can expect of a queue whose customers give up (Erlang A).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Expected {
    /// Share of contacts answered within the threshold (abandons count as not answered).
    pub service_level: f64,
    /// Share of contacts that abandon.
    pub abandon: f64,
    /// Mean wait in queue of all contacts, answered and abandoned, seconds.
    pub wait_seconds: f64,
}

/// Largest number of states of the birth-death chain considered; beyond it, `None` (an
/// overloaded queue with patient customers: its queue is long and the figures are moot).
const MAX_STATES: usize = 20_000;
/// Largest `states x Poisson terms` of the service-level sum, well under a millisecond of a
/// scrape per series; beyond it, `None`.
const MAX_WORK: f64 = 5e5;

/// Erlang A (M/M/n+M): Poisson arrivals at `lambda` per second, exponential handle times of
/// mean `aht` seconds, exponential patience at rate `theta` per second (0: nobody abandons,
/// which is Erlang C), `n` agents, threshold `t` seconds.
///
/// Method: the number in system is a birth-death chain (birth `lambda`, death
/// `min(k, n)/aht + max(k - n, 0) theta`), whose stationary distribution is summed in log space
/// and truncated where it falls below e^-40 of its peak. By PASTA an arrival sees it: with
/// fewer than `n` in system it is answered at once; with `n + j` it has `j` ahead, and each
/// stage `i` (ahead) ends at rate `n/aht + (i+1) theta`, moving it forward (rate
/// `n/aht + i theta`: an answer or an abandon ahead) or losing it (`theta`). P(answered within
/// t | j) is the uniformized sum over Poisson(Λ t) jump counts of the chance of reaching an
/// agent within that many jumps. Abandon share = theta E[queue] / lambda and mean wait =
/// E[queue] / lambda (Little's law). `None` for inputs that are not finite, a chain without
/// a stationary distribution (theta = 0 and lambda aht >= n), or beyond the work bounds.
pub(crate) fn erlang_a(n: u32, lambda: f64, aht: f64, theta: f64, t: f64) -> Option<Expected> {
    if !(lambda.is_finite() && lambda >= 0.0 && aht.is_finite() && aht > 0.0 && theta.is_finite() && theta >= 0.0 && t >= 0.0) {
        return None;
    }
    let a = lambda * aht;
    if lambda == 0.0 {
        return Some(Expected { service_level: 1.0, abandon: 0.0, wait_seconds: 0.0 });
    }
    if theta == 0.0 {
        // Erlang C, exactly: its formulas, no truncation.
        let wait_seconds = average_speed_of_answer(n, a, aht)?;
        return Some(Expected { service_level: service_level(n, a, aht, t), abandon: 0.0, wait_seconds });
    }
    let mu = 1.0 / aht;
    let nf = f64::from(n);
    // log pi_k, unnormalised, up to where it is negligible past the peak.
    let mut log_pi = vec![0.0f64];
    let mut peak = 0.0f64;
    let ln_lambda = lambda.ln();
    loop {
        let k = log_pi.len() as f64;
        let death = mu * k.min(nf) + theta * (k - nf).max(0.0);
        let next = log_pi[log_pi.len() - 1] + ln_lambda - death.ln();
        peak = peak.max(next);
        log_pi.push(next);
        // Past n and the peak, every further ratio lambda / death is below 1 and falling.
        if k > nf && death > lambda && next < peak - 40.0 {
            break;
        }
        if log_pi.len() > MAX_STATES {
            return None;
        }
    }
    let pi: Vec<f64> = log_pi.iter().map(|l| (l - peak).exp()).collect();
    let total: f64 = pi.iter().sum();
    let n_us = n as usize;
    let queued: Vec<f64> = pi.iter().skip(n_us).map(|p| p / total).collect();
    let mean_queue: f64 = queued.iter().enumerate().map(|(j, p)| j as f64 * p).sum();
    let answered_at_once: f64 = pi.iter().take(n_us).sum::<f64>() / total;

    // Uniformization of the waiting customer's chain over the `queued.len()` stages.
    let stages = queued.len();
    let rate = nf * mu + stages as f64 * theta;
    let mean_jumps = rate * t;
    let max_jumps = (mean_jumps + 10.0 * mean_jumps.sqrt() + 20.0).ceil();
    if max_jumps * stages as f64 > MAX_WORK {
        return None;
    }
    // s[j]: P(reached an agent within k jumps | j ahead), k = 0 so far.
    let mut s = vec![0.0f64; stages];
    let mut within = 0.0;
    let mut log_poisson = -mean_jumps;
    for k in 1..=max_jumps as u64 {
        for j in (0..stages).rev() {
            let forward = (nf * mu + j as f64 * theta) / rate;
            let stay = 1.0 - (nf * mu + (j + 1) as f64 * theta) / rate;
            let ahead = if j == 0 { 1.0 } else { s[j - 1] };
            s[j] = forward * ahead + stay * s[j];
        }
        log_poisson += mean_jumps.ln() - (k as f64).ln();
        let weight = log_poisson.exp();
        if weight > 0.0 {
            within += weight * queued.iter().zip(&s).map(|(p, s)| p * s).sum::<f64>();
        }
    }
    Some(Expected {
        service_level: (answered_at_once + within).min(1.0),
        abandon: theta * mean_queue / lambda,
        wait_seconds: mean_queue / lambda,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example"
    /// (callcentrehelper.com): 100 calls per 30 minutes, AHT 180 s, so A = 200/h x 3 min =
    /// 10 Erlangs; target 80 % within 20 s, max occupancy 85 %. Its table: N = 11 gives
    /// P(wait) 68.2 %, SL 39.0 %; N = 13: 28.5 %, 79.6 %; N = 14: 17.4 %, 88.8 %, ASA 7.8 s;
    /// so 14 agents. The digits below are the exact formula C = X / (Y + X), X = A^N/N! N/(N-A),
    /// Y = sum A^i/i! (i < N), in Python's exact fractions (`scripts/erlang-reference.py`).
    #[test]
    fn erlang_c_matches_the_call_centre_helper_worked_example() {
        let (a, aht, t) = (10.0, 180.0, 20.0);
        for (n, c, sl) in [
            (11, 0.6821182046893324, 0.3896138117291533),
            (13, 0.28527045303649295, 0.7955947884177831),
            (14, 0.17413193359504983, 0.8883500191794669),
        ] {
            assert!(close(erlang_c(n, a), c, 1e-12), "C({n})");
            assert!(close(service_level(n, a, aht, t), sl, 1e-12), "SL({n})");
        }
        // ASA = 0.17413 x 180 / 4 = 7.8359 s.
        assert!(close(average_speed_of_answer(14, a, aht).unwrap(), 7.835937011777243, 1e-9));
        let objective = Objective { service_level: 0.8, threshold_seconds: t, max_occupancy: 0.85 };
        // 13 agents give 79.56 % < 80 %, 14 give 88.8 %; ceil(10 / 0.85) = 12 does not bind.
        assert_eq!(required_agents(a, aht, &objective), Some(14));
        // A 70 % occupancy ceiling binds: ceil(10 / 0.7) = 15.
        assert_eq!(required_agents(a, aht, &Objective { max_occupancy: 0.7, ..objective }), Some(15));
        assert_eq!(required_agents(0.0, aht, &objective), Some(0));
    }

    /// Westbay Engineers, "The Erlang-C formula" (westbay.ndirect.co.uk/erlang.htm): 360 calls
    /// per half hour, 4 minute calls, 55 agents, 15 s target: A = 48 Erlangs, E_C = 0.2387,
    /// ASA 0.1364 min = 8.18 s, service level 84.6 %.
    #[test]
    fn erlang_c_matches_the_westbay_worked_example() {
        assert!(close(erlang_c(55, 48.0), 0.2387009363780092, 1e-12));
        assert!(close(average_speed_of_answer(55, 48.0, 240.0).unwrap(), 8.184032104388887, 1e-9));
        assert!(close(service_level(55, 48.0, 240.0, 15.0), 0.8458830921705803, 1e-12));
    }

    /// Hundreds and thousands of agents, where N! and A^N overflow f64 (171! > 1.8e308).
    /// Reference values from the exact formula in integer arithmetic:
    /// `scripts/erlang-reference.py 500 180 20 0.8 0.99` prints "required 510", C(509) =
    /// 0.5864943951901722 (SL 0.7842 < 0.8), C(510) = 0.5502107127623015 (SL 0.8188744915418606,
    /// ASA 9.903792829721427 s); `... 2000 180 20 0.8 0.999`: 2012, C = 0.7047002988507904; with
    /// a 0.99 ceiling 2021 = ceil(2000 / 0.99) binds although 2020 give SL 0.94.
    #[test]
    fn erlang_c_at_large_loads_matches_the_exact_formula() {
        let objective = Objective { service_level: 0.8, threshold_seconds: 20.0, max_occupancy: 0.99 };
        assert_eq!(required_agents(500.0, 180.0, &objective), Some(510));
        assert!(close(erlang_c(509, 500.0), 0.5864943951901722, 1e-10));
        assert!(close(erlang_c(510, 500.0), 0.5502107127623015, 1e-10));
        assert!(close(service_level(510, 500.0, 180.0, 20.0), 0.8188744915418606, 1e-10));
        assert!(close(average_speed_of_answer(510, 500.0, 180.0).unwrap(), 9.903792829721427, 1e-8));
        assert_eq!(required_agents(2000.0, 180.0, &Objective { max_occupancy: 0.999, ..objective }), Some(2012));
        assert!(close(erlang_c(2012, 2000.0), 0.7047002988507904, 1e-10));
        assert_eq!(required_agents(2000.0, 180.0, &objective), Some(2021));
        // Overloaded: every contact waits, nothing is answered within any threshold.
        assert_eq!((erlang_c(10, 12.0), service_level(10, 12.0, 180.0, 20.0), average_speed_of_answer(10, 12.0, 180.0)), (1.0, 0.0, None));
    }

    /// Erlang A without abandons is Erlang C: the Call Centre Helper case with 14 agents.
    #[test]
    fn erlang_a_without_patience_limit_is_erlang_c() {
        let e = erlang_a(14, 10.0 / 180.0, 180.0, 0.0, 20.0).unwrap();
        assert!(close(e.service_level, 0.8883500191794669, 1e-12));
        assert!(close(e.wait_seconds, 7.835937011777243, 1e-9));
        assert_eq!(e.abandon, 0.0);
        // A tiny patience rate goes through the chain and lands on the same figures.
        let e = erlang_a(14, 10.0 / 180.0, 180.0, 1e-9, 20.0).unwrap();
        assert!(close(e.service_level, 0.8883500191794669, 1e-6), "{e:?}");
        assert!(close(e.wait_seconds, 7.835937011777243, 1e-4), "{e:?}");
    }

    /// Erlang A against a discrete-event simulation of M/M/n+M (seeded, 400 000 arrivals):
    /// the simulated shares are binomial, standard error <= sqrt(0.25 / 4e5) = 0.0008, so
    /// 0.005 (6 standard errors, plus the warm-up's bias) for shares and 2 % for the mean
    /// wait. Cases: under-staffed (A = 10, 9 agents, mean patience 60 s: stable only
    /// because customers leave), near the objective (A = 10, 12 agents, patience 120 s) and
    /// large (A = 300, 300 agents, patience 90 s).
    #[test]
    fn erlang_a_matches_a_simulation() {
        for (n, a, patience, seed) in [(9, 10.0, 60.0, 1), (12, 10.0, 120.0, 2), (300, 300.0, 90.0, 3)] {
            let (aht, t) = (180.0, 20.0);
            let lambda = a / aht;
            let e = erlang_a(n, lambda, aht, 1.0 / patience, t).unwrap();
            let sim = simulate(n, lambda, aht, patience, t, 400_000, seed);
            assert!(close(e.service_level, sim.service_level, 0.005), "n={n}: {e:?} vs {sim:?}");
            assert!(close(e.abandon, sim.abandon, 0.005), "n={n}: {e:?} vs {sim:?}");
            assert!(close(e.wait_seconds, sim.wait_seconds, 0.02 * sim.wait_seconds + 0.05), "n={n}: {e:?} vs {sim:?}");
        }
    }

    /// SplitMix64, for a seeded simulation without a crate.
    struct Rng(u64);

    impl Rng {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            // (0, 1]: never 0, so ln is finite.
            ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64
        }

        fn exp(&mut self, mean: f64) -> f64 {
            -mean * self.uniform().ln()
        }
    }

    /// M/M/n+M, first come first served: each arrival's wait is decided on arrival from the
    /// times agents free up (a customer ahead who abandons never takes an agent), then it is
    /// answered if its patience outlasts that wait. The first 10 % of arrivals warm up.
    fn simulate(n: u32, lambda: f64, aht: f64, patience: f64, t: f64, arrivals: usize, seed: u64) -> Expected {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let mut rng = Rng(seed);
        // Times agents become free, as ordered integers (nanoseconds) in a min-heap.
        let mut free: BinaryHeap<Reverse<u64>> = (0..n).map(|_| Reverse(0)).collect();
        let ns = |s: f64| (s * 1e9) as u64;
        let (mut now, mut counted, mut within, mut abandoned, mut waited) = (0.0, 0usize, 0usize, 0usize, 0.0);
        for i in 0..arrivals {
            now += rng.exp(1.0 / lambda);
            let Reverse(next_free) = *free.peek().unwrap();
            let start = (next_free as f64 / 1e9).max(now);
            let wait = start - now;
            let gives_up = rng.exp(patience);
            let answered = gives_up >= wait;
            if answered {
                free.pop();
                free.push(Reverse(ns(start + rng.exp(aht))));
            }
            if i >= arrivals / 10 {
                counted += 1;
                within += usize::from(answered && wait <= t);
                abandoned += usize::from(!answered);
                waited += if answered { wait } else { gives_up };
            }
        }
        let c = counted as f64;
        Expected { service_level: within as f64 / c, abandon: abandoned as f64 / c, wait_seconds: waited / c }
    }
}
