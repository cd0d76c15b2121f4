//! A real Chromium, driven over WebDriver, for testing the dashboard as a person uses it.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// Chromium under chromedriver; both end with the value.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where screenshots go: `tests/output/screenshots`, or `ARENA_SCREENSHOT_DIR`.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("ARENA_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/output/screenshots"))
        })
}

impl Browser {
    /// Starts chromedriver and a headless Chromium (`chromium` and `chromium-driver` from
    /// Debian's packages; the README's test command installs them).
    pub async fn start() -> Self {
        // The WebDriver client asks rustls for the process default; name it once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver on PATH (apt-get install chromium chromium-driver)");
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": std::env::var("ARENA_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--window-size=1280,900"
                ]
            }
        });
        let capabilities = match capabilities {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("an object literal"),
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::rustls()
                .expect("TLS setup")
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(err) if Instant::now() < deadline => {
                    let _ = err;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => panic!("no WebDriver session: {err}"),
            }
        };
        Self { client, driver }
    }

    /// The first element matching `css`, waiting up to ten seconds for it.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("{css}: {err}"))
    }

    /// Waits until the page's text contains `text`.
    pub async fn wait_for_text(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let body = self.find("body").await.text().await.unwrap_or_default();
            if body.contains(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "page never showed {text:?}; it shows:\n{body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Follows the link whose text is `text`.
    pub async fn click_link(&self, text: &str) {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::LinkText(text))
            .await
            .unwrap_or_else(|err| panic!("link {text:?}: {err}"))
            .click()
            .await
            .unwrap_or_else(|err| panic!("click {text:?}: {err}"));
    }

    /// Clicks the element matching `css`, waiting up to ten seconds for it.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|err| panic!("click {css}: {err}"));
    }

    /// Clicks the element matching `css` and accepts the confirmation it asks for.
    pub async fn click_and_confirm(&self, css: &str) {
        self.click(css).await;
        self.client
            .accept_alert()
            .await
            .unwrap_or_else(|err| panic!("{css} asked for no confirmation: {err}"));
    }

    /// Answers the prompt the page shows with `text`.
    pub async fn answer_prompt(&self, text: &str) {
        self.client
            .send_alert_text(text)
            .await
            .unwrap_or_else(|err| panic!("no prompt to answer with {text:?}: {err}"));
        self.client.accept_alert().await.expect("accept the prompt");
    }

    /// Types `value` into the input named `name`.
    pub async fn fill(&self, name: &str, value: &str) {
        let input = self.find(&format!("[name='{name}']")).await;
        input.clear().await.expect("clear");
        input.send_keys(value).await.expect("type");
    }

    /// Saves a PNG of the page as `{name}.png` in [`screenshot_dir`].
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
