//! HTTP on loopback: free ports, plain GET and POST, scraping `/metrics` until a condition holds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::parse_exposition;

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A free loopback address.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// A plain HTTP/1.0 GET: (status code, body).
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// A plain HTTP/1.0 POST with extra headers: (status code, body).
pub fn http_post(addr: SocketAddr, path: &str, headers: &[(String, String)], body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    // A server may answer (413) before reading all of a large body and close.
    let _ = stream.write_all(body);
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// One `/metrics` body, `None` unless it answered 200.
pub fn scrape(addr: SocketAddr) -> Option<String> {
    http_get(addr, "/metrics").ok().filter(|(status, _)| *status == 200).map(|(_, body)| body)
}

/// Waits until `done` holds for a scrape, returning it.
pub fn wait_for(addr: SocketAddr, limit: Duration, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(text) = scrape(addr).filter(|t| done(t)) {
            return text;
        }
        assert!(Instant::now() < deadline, "condition not reached within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Scrapes until `done` holds (or 60 s pass) and returns the parsed series.
pub async fn scrape_until(addr: SocketAddr, done: impl Fn(&std::collections::BTreeMap<String, f64>) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = tokio::task::spawn_blocking(move || http_get(addr, "/metrics")).await.unwrap().unwrap();
        assert_eq!(status, 200);
        if done(&parse_exposition(&body)) {
            return body;
        }
        assert!(Instant::now() < deadline, "condition not reached in 60 s; last scrape:\n{body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Scrapes until `done` holds over the scrapes of every instance (an instance not answering
/// counts as an empty scrape).
pub fn wait_all(addrs: &[SocketAddr], limit: Duration, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let texts: Vec<String> = addrs.iter().map(|a| scrape(*a).unwrap_or_default()).collect();
        if done(&texts) {
            return texts;
        }
        assert!(Instant::now() < deadline, "not reached within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// [`scrape`] off the async runtime; an empty string unless it answered 200.
pub async fn scrape_async(addr: SocketAddr) -> String {
    tokio::task::spawn_blocking(move || scrape(addr).unwrap_or_default()).await.unwrap()
}

/// [`wait_for`] off the async runtime, for up to 120 s.
pub async fn wait_for_async(addr: SocketAddr, done: impl Fn(&str) -> bool + Send + 'static) -> String {
    tokio::task::spawn_blocking(move || wait_for(addr, Duration::from_secs(120), done)).await.unwrap()
}

/// Waits until `addr` answers `path` with 200 (a process's readiness endpoint).
pub fn wait_ready(addr: SocketAddr, path: &str, what: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !matches!(http_get(addr, path), Ok((200, _))) {
        assert!(Instant::now() < deadline, "{what} did not become ready on {addr}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
