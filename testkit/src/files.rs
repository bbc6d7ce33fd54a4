//! A plain-HTTP file server on loopback: the stand-in for an address that publishes files (a
//! maintainer's certificate at a commit), counting what it served.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub struct FileServer {
    pub port: u16,
    served: Arc<AtomicUsize>,
}

impl FileServer {
    /// Serves `files` (path → bytes) with 200 — a file whose bytes are `redirect:<url>` with a 302
    /// to that address — anything else with 404, until the process ends.
    pub fn start(files: HashMap<String, Vec<u8>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // The headers, up to the blank line.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (status, body, location) = match files.get(&path) {
                    Some(bytes) if bytes.starts_with(b"redirect:") => {
                        ("302 Found", Vec::new(), String::from_utf8_lossy(&bytes[9..]).to_string())
                    }
                    Some(bytes) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        ("200 OK", bytes.clone(), String::new())
                    }
                    None => ("404 Not Found", b"not found".to_vec(), String::new()),
                };
                let location = if location.is_empty() { location } else { format!("Location: {location}\r\n") };
                let head = format!(
                    "HTTP/1.1 {status}\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(&body));
            }
        });
        FileServer { port, served }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// How many files it has served.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }
}
