use super::super::send::{SendError, Verdict, classify, excerpt};
use super::super::{BACKOFF_BASE as BASE, MAX_ATTEMPTS, backoff};
use super::*;

#[track_caller]
fn check_backoff(attempt: u32, jitter: f64, expect: Expect) {
    expect.assert_eq(&format!("{:?}", backoff(BASE, attempt, jitter)));
}

#[test]
fn backoff_doubles_from_five_seconds_to_a_cap_with_jitter_in_the_upper_half() {
    check_backoff(0, 0.5, expect!["0ns"]);
    check_backoff(1, 0.0, expect!["2.5s"]);
    check_backoff(1, 1.0, expect!["5s"]);
    check_backoff(2, 0.0, expect!["5s"]);
    check_backoff(3, 0.5, expect!["15s"]);
    check_backoff(MAX_ATTEMPTS - 1, 1.0, expect!["320s"]);
    check_backoff(9, 1.0, expect!["900s"]);
    check_backoff(40, 1.0, expect!["900s"]);
    check_backoff(u32::MAX, 0.0, expect!["450s"]);
    check_backoff(1, -3.0, expect!["2.5s"]);
    check_backoff(1, 7.0, expect!["5s"]);
    check_backoff(1, f64::NAN, expect!["2.5s"]);
    // A smaller base scales every step; the cap stays.
    expect!["50ms"].assert_eq(&format!("{:?}", backoff(Duration::from_millis(50), 1, 1.0)));
    expect!["400ms"].assert_eq(&format!("{:?}", backoff(Duration::from_millis(50), 4, 1.0)));
    expect!["900s"].assert_eq(&format!("{:?}", backoff(Duration::from_millis(50), 40, 1.0)));
}

#[test]
fn a_retry_after_longer_than_the_backoff_wins_within_an_hour() {
    let error = |seconds: Option<u64>| SendError {
        retryable: true,
        retry_after: seconds.map(Duration::from_secs),
        message: String::new(),
    };
    assert_eq!(error(None).delay(BASE, 1, 1.0), Duration::from_secs(5));
    assert_eq!(error(Some(2)).delay(BASE, 1, 1.0), Duration::from_secs(5));
    assert_eq!(error(Some(120)).delay(BASE, 1, 1.0), Duration::from_secs(120));
    assert_eq!(error(Some(86_400)).delay(BASE, 1, 1.0), Duration::from_secs(3600));
}

#[track_caller]
fn check_classify(statuses: &[u16], expect: Expect) {
    let got: Vec<String> = statuses
        .iter()
        .map(|status| format!("{status} {:?}", classify(*status)))
        .collect();
    expect.assert_eq(&got.join(", "));
}

#[test]
fn timeouts_throttling_and_server_errors_are_retried_and_other_refusals_are_not() {
    check_classify(&[200, 201, 202], expect!["200 Sent, 201 Sent, 202 Sent"]);
    check_classify(
        &[408, 429, 500, 502, 503, 504],
        expect!["408 Retry, 429 Retry, 500 Retry, 502 Retry, 503 Retry, 504 Retry"],
    );
    check_classify(
        &[301, 400, 401, 403, 404, 410, 413, 422],
        expect![
            "301 Refused, 400 Refused, 401 Refused, 403 Refused, 404 Refused, 410 Refused, 413 Refused, 422 Refused"
        ],
    );
    assert_eq!(classify(600), Verdict::Refused);
}

#[track_caller]
fn check_excerpt(answer: &[u8], expect: Expect) {
    expect.assert_eq(&excerpt(answer));
}

#[test]
fn an_error_keeps_at_most_two_hundred_bytes_of_the_answer_on_one_line() {
    check_excerpt(b"", expect!["(no answer body)"]);
    check_excerpt(b"{\"message\":\n\"bad\"}", expect![[r#"{"message": "bad"}"#]]);
    let long = "é".repeat(150);
    let cut = excerpt(long.as_bytes());
    assert_eq!(cut, format!("{}…", "é".repeat(100)));
    check_excerpt(&[0xff, b'o', b'k'], expect!["�ok"]);
}
