//! `delay_proxy LISTEN_PORT UPSTREAM DELAY_MS`: accepts connections on 127.0.0.1:LISTEN_PORT,
//! connects each to UPSTREAM (host:port), passes requests through at once and hands every piece
//! of the response to the client DELAY_MS after it arrived, in order. A request therefore waits
//! DELAY_MS more for its answer, as on a link with that much more latency, while bytes keep
//! streaming at the upstream's rate. Prints "ready" once listening.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: delay_proxy LISTEN_PORT UPSTREAM_HOST:PORT DELAY_MS");
        std::process::exit(2);
    }
    let port: u16 = args[1].parse().expect("LISTEN_PORT must be a port number");
    let upstream = args[2].clone();
    let delay = Duration::from_millis(args[3].parse().expect("DELAY_MS must be an integer"));
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("ready");
    loop {
        let (client, _) = listener.accept().await?;
        let upstream = upstream.clone();
        tokio::spawn(async move {
            if let Ok(server) = TcpStream::connect(&upstream).await {
                let _ = proxy(client, server, delay).await;
            }
        });
    }
}

async fn proxy(client: TcpStream, server: TcpStream, delay: Duration) -> std::io::Result<()> {
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
                    if tx.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, piece)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if client_wr.write_all(&piece).await.is_err() {
                break;
            }
        }
        let _ = client_wr.shutdown().await;
    };
    tokio::join!(upstream, reader, writer);
    Ok(())
}
