//! `delay_proxy LISTEN_PORT UPSTREAM DELAY_MS [RATE_MBIT]`: accepts connections on
//! 127.0.0.1:LISTEN_PORT, connects each to UPSTREAM (host:port), passes requests through at once
//! and hands every piece of the response to the client DELAY_MS after it arrived, in order. A
//! request therefore waits DELAY_MS more for its answer, as on a link with that much more
//! round-trip time (only the server's direction is delayed, so DELAY_MS is the round trip added,
//! not a one-way delay; connecting costs no extra round trip), while bytes keep streaming at the
//! upstream's rate.
//!
//! With RATE_MBIT (megabits per second, 10^6 bits; absent or 0: no cap), the bytes from the
//! servers to the clients of all connections together are paced to that rate by one token bucket
//! (`bucket.rs`): each connection writes at most 64 KiB or 1 ms worth at once, after sleeping
//! until the bucket holds it. Pacing comes after the delay, as a link's round trip and its
//! bandwidth add up. Prints "ready" once listening.

mod bucket;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use bucket::Bucket;

/// The capped link, shared by every connection.
struct Link {
    bucket: Mutex<Bucket>,
    /// The most bytes written at once.
    piece: usize,
}

impl Link {
    fn new(mbit_per_s: f64) -> Self {
        let rate = bucket::bytes_per_s(mbit_per_s);
        let bucket = Bucket::new(rate, bucket::capacity(rate), std::time::Instant::now());
        Link {
            bucket: Mutex::new(bucket),
            piece: bucket::write_size(rate),
        }
    }

    /// Writes `data` to `out` at the link's rate, shared with the other connections.
    async fn write(&self, out: &mut OwnedWriteHalf, data: &[u8]) -> std::io::Result<()> {
        for piece in data.chunks(self.piece) {
            let wait = self
                .bucket
                .lock()
                .unwrap()
                .reserve(piece.len() as u64, std::time::Instant::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            out.write_all(piece).await?;
        }
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 && args.len() != 5 {
        eprintln!("usage: delay_proxy LISTEN_PORT UPSTREAM_HOST:PORT DELAY_MS [RATE_MBIT]");
        std::process::exit(2);
    }
    let port: u16 = args[1].parse().expect("LISTEN_PORT must be a port number");
    let upstream = args[2].clone();
    let delay = Duration::from_millis(args[3].parse().expect("DELAY_MS must be an integer"));
    let mbit: f64 = args
        .get(4)
        .map_or(0.0, |a| a.parse().expect("RATE_MBIT must be a number"));
    assert!(
        mbit >= 0.0 && mbit.is_finite(),
        "RATE_MBIT must be 0 (no cap) or more"
    );
    let link = (bucket::bytes_per_s(mbit) > 0).then(|| Arc::new(Link::new(mbit)));
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("ready");
    loop {
        let (client, _) = listener.accept().await?;
        let (upstream, link) = (upstream.clone(), link.clone());
        tokio::spawn(async move {
            if let Ok(server) = TcpStream::connect(&upstream).await {
                let _ = proxy(client, server, delay, link).await;
            }
        });
    }
}

async fn proxy(
    client: TcpStream,
    server: TcpStream,
    delay: Duration,
    link: Option<Arc<Link>>,
) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut server_rd, mut server_wr) = server.into_split();
    let upstream = async move {
        let _ = tokio::io::copy(&mut client_rd, &mut server_wr).await;
        let _ = server_wr.shutdown().await;
    };
    // Pieces of the response, each with the time it may be passed on.
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 256 << 10];
        loop {
            match server_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, piece)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            let sent = match &link {
                None => client_wr.write_all(&piece).await,
                Some(link) => link.write(&mut client_wr, &piece).await,
            };
            if sent.is_err() {
                break;
            }
        }
        let _ = client_wr.shutdown().await;
    };
    tokio::join!(upstream, reader, writer);
    Ok(())
}
