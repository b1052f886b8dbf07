//! Bounded work: ledger work beyond its bound is refused with a 503 while health answers; a
//! request past its timeout is a 503 and its work still counts; reports run side by side; a
//! panic is a 500 that tells the client only its request id.

use super::*;
use crate::reports::tests::hostile_times;

fn limits(max_concurrent_reads: usize, request_timeout: Duration) -> Limits {
    Limits {
        max_concurrent_reads,
        request_timeout,
        ..Limits::default()
    }
}

/// Starts a GET on its own thread.
fn spawn_get(addr: std::net::SocketAddr, path: &'static str) -> std::thread::JoinHandle<Reply> {
    std::thread::spawn(move || get(addr, path, Some(AUDITOR)))
}

#[test]
fn ledger_work_beyond_its_bound_is_refused_while_health_answers() {
    let server = TestServer::start(&hostile_times(), limits(1, Duration::from_secs(60)));
    let gate = Arc::new(Gate::default());
    server
        .state
        .hooks
        .work
        .set(Arc::clone(&gate))
        .expect("hook");
    let slow = spawn_get(server.addr, "/v1/checkpoint");
    assert!(gate.entered(1), "the first request's work never started");
    let refused = server.get("/v1/entries/1", Some(AUDITOR));
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(
        refused.json()["error"]
            .as_str()
            .is_some_and(|m| m.contains("as many requests as it allows")),
        "{}",
        refused.body
    );
    // Health has a pool of its own; its work passes the same hook.
    let health = std::thread::spawn({
        let addr = server.addr;
        move || get(addr, "/healthz", None)
    });
    assert!(gate.entered(2), "health's work never started");
    gate.open();
    assert_eq!(health.join().expect("health").status, 200);
    let first = slow.join().expect("first");
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body.starts_with("test.idledger.local/reports\n"));
    let metrics = server.state.busy.load(Ordering::Relaxed);
    assert_eq!(metrics, 1, "the refusal is counted");
}

#[test]
fn no_more_blocking_work_runs_at_once_than_the_bound() {
    let server = TestServer::start(&hostile_times(), limits(2, Duration::from_secs(60)));
    let gate = Arc::new(Gate::default());
    server
        .state
        .hooks
        .work
        .set(Arc::clone(&gate))
        .expect("hook");
    let held: Vec<_> = (0..2)
        .map(|_| spawn_get(server.addr, "/v1/checkpoint"))
        .collect();
    assert!(gate.entered(2));
    let more: Vec<Reply> = (0..20)
        .map(|_| spawn_get(server.addr, "/v1/reports/drift"))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("request"))
        .collect();
    assert!(more.iter().all(|r| r.status == 503), "{more:?}");
    assert_eq!(gate.count(), 2, "work beyond the bound started");
    gate.open();
    for h in held {
        assert_eq!(h.join().expect("held").status, 200);
    }
}

#[test]
fn a_request_past_its_timeout_is_a_503_and_its_work_still_counts() {
    let server = TestServer::start(&hostile_times(), limits(1, Duration::from_millis(300)));
    let gate = Arc::new(Gate::default());
    server
        .state
        .hooks
        .work
        .set(Arc::clone(&gate))
        .expect("hook");
    let timed_out = server.get("/v1/checkpoint", Some(AUDITOR));
    assert_eq!(timed_out.status, 503, "{}", timed_out.body);
    assert!(
        timed_out
            .body
            .contains("took longer than the server allows (300 ms)"),
        "{}",
        timed_out.body
    );
    assert_eq!(timed_out.header("retry-after"), Some("1"));
    // Its work is still held at the gate, so it still takes the only permit.
    let refused = server.get("/v1/checkpoint", Some(AUDITOR));
    assert!(
        refused.status == 503 && refused.body.contains("as many requests"),
        "{}",
        refused.body
    );
    gate.open();
    // Once that work ends its permit returns: wait for it, within a deadline.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let reply = server.get("/v1/checkpoint", Some(AUDITOR));
        if reply.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the permit never came back: {reply:?}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn reports_are_computed_side_by_side() {
    let server = TestServer::start(&hostile_times(), limits(4, Duration::from_secs(60)));
    // A first report catches the projections up (exclusively); the two after it only read.
    assert_eq!(server.get("/v1/reports/drift", Some(AUDITOR)).status, 200);
    let gate = Arc::new(Gate::default());
    server
        .state
        .hooks
        .report
        .set(Arc::clone(&gate))
        .expect("hook");
    let a = spawn_get(server.addr, "/v1/reports/drift");
    let b = spawn_get(server.addr, "/v1/reports/rotation");
    // Both hold the projections' read lock at the gate at once: one exclusive lock would let
    // only one in.
    let both = gate.entered(2);
    gate.open();
    assert!(both, "only {} report(s) computed at once", gate.count());
    assert_eq!(a.join().expect("a").status, 200);
    assert_eq!(b.join().expect("b").status, 200);
}

#[test]
fn a_panic_in_ledger_work_is_a_generic_500_naming_the_request() {
    let server = TestServer::start(&hostile_times(), Limits::default());
    server
        .state
        .hooks
        .work
        .set(Arc::new(Gate::panicking()))
        .expect("hook");
    let reply = server.get("/v1/checkpoint", Some(AUDITOR));
    assert_eq!(reply.status, 500);
    let id = reply
        .header("x-request-id")
        .expect("a request id")
        .to_owned();
    assert_eq!(
        reply.json(),
        json!({ "error": failures::INTERNAL_MESSAGE, "request_id": id })
    );
    assert!(!reply.body.contains("secret-looking") && !reply.body.contains("panic"));
}

async fn boom() -> &'static str {
    panic!("task 7 panicked at src/secret.rs:1")
}

#[test]
fn a_panic_in_a_handler_is_a_generic_500_naming_the_request() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    runtime.spawn(async move {
        let app: Router = Router::new()
            .route("/boom", axum::routing::get(boom))
            .route("/fine", axum::routing::get(|| async { "fine" }))
            .layer(middleware::from_fn(failures::outermost));
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        axum::serve(listener, app).await.expect("serve");
    });
    let reply = super::get(addr, "/boom", None);
    assert_eq!(reply.status, 500);
    let id = reply
        .header("x-request-id")
        .expect("a request id")
        .to_owned();
    assert_eq!(
        reply.json(),
        json!({ "error": failures::INTERNAL_MESSAGE, "request_id": id })
    );
    let fine = super::get(addr, "/fine", None);
    assert_eq!((fine.status, fine.body.as_str()), (200, "fine"));
    assert_ne!(fine.header("x-request-id"), Some(id.as_str()));
    runtime.shutdown_timeout(Duration::from_secs(5));
}
