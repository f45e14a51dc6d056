//! Who may use the dashboard: the one browser that opened the printed link.
//!
//! Other users of the machine can reach 127.0.0.1 too, so the link carries a random
//! secret. Its first use is exchanged for a cookie (HttpOnly, SameSite=Strict, named for
//! the port, since cookies do not tell ports apart) and the secret is spent; every other
//! request must carry the cookie. A request whose Host is not the dashboard's own address
//! (another name that resolves to 127.0.0.1: DNS rebinding) or that comes from another
//! site's page (Origin) is refused as well. Every answer forbids framing, sniffing and
//! caching, and the page may load nothing from elsewhere.

use super::App;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, Mutex};

const SECRET_BYTES: usize = 32;

pub struct Gate {
    /// `127.0.0.1:PORT`, the only Host answered.
    host: String,
    /// `http://127.0.0.1:PORT`, the only Origin answered.
    origin: String,
    /// The link's secret until it is spent.
    secret: Mutex<Option<String>>,
    cookie_name: String,
    cookie_value: String,
}

fn random_hex() -> Result<String, ring::error::Unspecified> {
    let mut bytes = [0u8; SECRET_BYTES];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares without telling, by its time, how much of a guess was right.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

impl Gate {
    pub fn new(port: u16) -> Result<Gate, ring::error::Unspecified> {
        Ok(Gate {
            host: format!("127.0.0.1:{port}"),
            origin: format!("http://127.0.0.1:{port}"),
            secret: Mutex::new(Some(random_hex()?)),
            cookie_name: format!("wms_dashboard_{port}"),
            cookie_value: random_hex()?,
        })
    }

    /// The link to print (while its secret is unspent).
    pub fn link(&self) -> String {
        let secret = self.secret.lock().unwrap_or_else(|e| e.into_inner());
        format!(
            "{}/?secret={}",
            self.origin,
            secret.as_deref().unwrap_or_default()
        )
    }

    /// Spends the secret if `offered` is it.
    fn spend(&self, offered: &str) -> bool {
        let mut secret = self.secret.lock().unwrap_or_else(|e| e.into_inner());
        if secret.as_deref().is_some_and(|s| same(s, offered)) {
            *secret = None;
            true
        } else {
            false
        }
    }

    fn has_cookie(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == self.cookie_name && same(value, &self.cookie_value))
    }

    fn set_cookie(&self) -> HeaderValue {
        HeaderValue::from_str(&format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            self.cookie_name, self.cookie_value
        ))
        .expect("the cookie is ASCII")
    }
}

/// The `secret` parameter of a query string, if there is one.
fn secret_param(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == "secret")
        .map(|(_, v)| v)
}

fn refuse(why: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        format!("wms dashboard: refused: {why}\n"),
    )
        .into_response()
}

fn to_page() -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, HeaderValue::from_static("/"))],
    )
        .into_response()
}

/// Lets in only the browser that opened the link, and marks every answer.
pub async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let mut resp = admit(&app.gate, req, next).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn admit(gate: &Gate, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if headers.get(header::HOST).and_then(|h| h.to_str().ok()) != Some(gate.host.as_str()) {
        return refuse(&format!(
            "this dashboard answers only as http://{}/",
            gate.host
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        if origin.to_str().ok() != Some(gate.origin.as_str()) {
            return refuse("the request came from another site's page");
        }
    }
    let let_in = gate.has_cookie(headers);
    if req.uri().path() == "/" {
        if let Some(offered) = secret_param(req.uri().query()) {
            if let_in {
                return to_page();
            }
            if gate.spend(offered) {
                let mut resp = to_page();
                resp.headers_mut()
                    .insert(header::SET_COOKIE, gate.set_cookie());
                return resp;
            }
            return refuse(
                "the link's secret is wrong or already used; start `wms dashboard` again for a new link",
            );
        }
    }
    if !let_in {
        return refuse("open the link `wms dashboard` printed; this browser has not been let in");
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_spent_once_and_the_cookie_named_for_the_port() {
        let g = Gate::new(4242).unwrap();
        let link = g.link();
        let secret = link.split("secret=").nth(1).unwrap().to_string();
        assert_eq!(secret.len(), 2 * SECRET_BYTES);
        assert!(link.starts_with("http://127.0.0.1:4242/?secret="));
        assert!(!g.spend("0".repeat(64).as_str()));
        assert!(g.spend(&secret));
        assert!(!g.spend(&secret), "spent");
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=b"));
        assert!(!g.has_cookie(&h));
        h.insert(header::COOKIE, g.set_cookie());
        // What a browser sends back is the pair before the first `;`.
        let sent = g
            .set_cookie()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; {sent}")).unwrap(),
        );
        assert!(g.has_cookie(&h));
        assert!(sent.starts_with("wms_dashboard_4242="));
    }

    #[test]
    fn the_secret_is_read_from_the_query() {
        assert_eq!(secret_param(Some("a=1&secret=ab")), Some("ab"));
        assert_eq!(secret_param(Some("secrets=ab")), None);
        assert_eq!(secret_param(None), None);
    }
}
