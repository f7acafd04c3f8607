//! The `/status` page in a real browser (headless Chromium over the
//! DevTools protocol): it draws every server from `/api/status` with its
//! state, health checks and counters, loads nothing from elsewhere, and
//! when a backend is killed its row turns `unhealthy` without the page
//! being reloaded (a marker set in the page survives). Screenshots before
//! and after are saved under the target dir; their paths are printed.

use openclaw_e2e::chromium::Browser;
use openclaw_e2e::lifecycle::{health_check, server, upstream, EdgeFiles};
use openclaw_e2e::{bounded, Backend, Request};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Polls `expression` in the page until it is `true`, or fails naming `what`.
async fn wait_true(browser: &mut Browser, what: &str, expression: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        if browser.eval(expression).await == Value::Bool(true) {
            return;
        }
        if Instant::now() >= deadline {
            let body = browser.eval("document.body.innerText").await;
            panic!("gave up after {limit:?} waiting for {what}; the page shows:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `data-state` of the row of `server`, as a JS expression.
fn row_state(server: &str) -> String {
    format!(
        "((document.querySelector('tr[data-server=\"{server}\"]') || {{}}).dataset?.state ?? null)"
    )
}

/// Where screenshots go: the tests' target tmp dir, kept after the run.
fn shot(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("status_page")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_shows_a_server_going_down_without_a_reload() {
    bounded(Duration::from_secs(120), async {
        let mut backends = Backend::start_n(2).await;
        let files = EdgeFiles::new();
        let check = health_check(
            Duration::from_millis(200),
            1,
            2,
            Duration::from_millis(150),
            false,
        );
        let servers: Vec<String> = backends.iter().map(|b| server(b.addr(), "")).collect();
        files.write(&files.yaml(
            "access_log: off\n",
            &upstream("gw", &["balance: least_conn", &check], &servers),
            &[],
        ));
        let _edge = files.start("edge").await;
        for _ in 0..6 {
            let r = Request::get(files.listen, "/").send().await.expect("GET /");
            assert_eq!(r.status, 200);
        }
        let (s0, s1) = (
            backends[0].addr().to_string(),
            backends[1].addr().to_string(),
        );

        let mut browser = Browser::launch(1600, 700).await;
        let url = format!("http://{}/status?interval=300", files.admin);
        browser.open(&url).await;
        let both_up = format!("{} === 'up' && {} === 'up'", row_state(&s0), row_state(&s1));
        wait_true(
            &mut browser,
            "both servers up",
            &both_up,
            Duration::from_secs(20),
        )
        .await;
        // Drawn from the JSON: version, generation, counters, check results.
        let text = browser.eval("document.body.innerText").await;
        let text = text.as_str().unwrap_or_default().to_string();
        for want in [
            "upstream gw",
            "least_conn",
            "config generation 1",
            "version 0.",
            "alive",
        ] {
            assert!(text.contains(want), "the page lacks {want:?}:\n{text}");
        }
        let requests = browser
            .eval(
                "[...document.querySelectorAll('tr[data-upstream=\"gw\"]')]\
                 .map(r => Number(r.children[7].textContent)).reduce((a, b) => a + b, 0)",
            )
            .await;
        assert_eq!(requests, 6, "requests column sums to the 6 sent:\n{text}");
        // Nothing loaded from anywhere but the admin listener.
        let origin = format!("http://{}/", files.admin);
        let foreign = browser
            .eval(&format!(
                "performance.getEntriesByType('resource').map(e => e.name)\
                 .filter(n => !n.startsWith('{origin}'))"
            ))
            .await;
        assert_eq!(foreign, Value::Array(vec![]), "external assets");
        let before = shot("before.png");
        browser.screenshot(&before).await;
        println!("status page screenshot (both up): {}", before.display());

        // Mark this page load, then kill a backend and watch without reloading.
        browser.eval("window.__sameLoad = 'yes'").await;
        let polls: u64 = browser
            .eval("Number(document.body.dataset.polls)")
            .await
            .as_u64()
            .unwrap_or(0);
        backends[0].stop().await;
        let down = format!("{} === 'unhealthy'", row_state(&s0));
        wait_true(&mut browser, "s0 unhealthy", &down, Duration::from_secs(20)).await;
        assert_eq!(
            browser.eval("window.__sameLoad").await,
            "yes",
            "the page was reloaded"
        );
        let after_polls = browser.eval("Number(document.body.dataset.polls)").await;
        assert!(
            after_polls.as_u64().unwrap_or(0) > polls,
            "polls {polls} -> {after_polls}"
        );
        assert_eq!(browser.eval(&row_state(&s1)).await, "up");
        let row = browser
            .eval(&format!(
                "document.querySelector('tr[data-server=\"{s0}\"]').innerText"
            ))
            .await;
        let row = row.as_str().unwrap_or_default();
        assert!(
            row.contains("dead") && row.contains("connect"),
            "the row tells the failed check and why: {row}"
        );
        let after = shot("after.png");
        browser.screenshot(&after).await;
        println!("status page screenshot (s0 unhealthy): {}", after.display());
    })
    .await;
}
