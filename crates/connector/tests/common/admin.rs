//! The admin server of a test, over a test's store, and its browser session.

use std::sync::Arc;

use graph_connector::config::Config;

/// A running admin server.
pub struct Admin {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stop: tokio_util::sync::CancellationToken,
    server: tokio::task::JoinHandle<()>,
}

impl Admin {
    /// Serves the admin page and API of `config` over `store`, on a free local port.
    pub async fn start(config: Config, store: Arc<dyn gc_store::StateStore>) -> Admin {
        let graph =
            gc_graph::GraphClient::new(graph_connector::wiring::graph_options(&config).unwrap())
                .unwrap();
        let state = Arc::new(graph_connector::admin::AdminState::new(
            Arc::new(config),
            store,
            graph_connector::daemon::status::Status::new(),
            Arc::new(gc_sync::adapters::GraphMail::new(graph, "")),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = tokio_util::sync::CancellationToken::new();
        let server = graph_connector::admin::serve(state, listener, stop.clone());
        Admin { base, stop, server }
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        self.stop.cancel();
        self.server.await.unwrap();
    }
}

/// A client that does not follow redirects (a form's answer is a redirect to check).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A browser's first visit of `url`: the session cookie it was given, and the page.
pub async fn visit(client: &reqwest::Client, url: &str) -> (String, String) {
    let r = client.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (cookie, r.text().await.unwrap())
}

/// The CSRF token of the page's forms.
pub fn csrf(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned()
}
