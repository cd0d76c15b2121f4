//! A minimal SMTP server on 127.0.0.1 that accepts every message, for testing delivery.

use std::net::SocketAddr;

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    sync::mpsc,
};

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    /// `RCPT TO` addresses.
    pub recipients: Vec<String>,
    /// The raw message (headers and body).
    pub data: String,
}

/// A running sink; messages arrive on `messages`.
pub struct SmtpSink {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Every accepted message.
    pub messages: mpsc::UnboundedReceiver<Received>,
}

impl SmtpSink {
    /// Starts listening on an ephemeral port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, messages) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ready\r\n").await;
                    let mut recipients = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO")
                        {
                            b"250 sink\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            recipients.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
                            b"250 ok\r\n"
                        } else if upper.starts_with("DATA") {
                            let _ = write.write_all(b"354 go on\r\n").await;
                            let mut data = String::new();
                            while let Ok(Some(body_line)) = lines.next_line().await {
                                if body_line == "." {
                                    break;
                                }
                                data.push_str(&body_line);
                                data.push('\n');
                            }
                            let _ = tx.send(Received {
                                recipients: std::mem::take(&mut recipients),
                                data,
                            });
                            b"250 queued\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            b"250 ok\r\n"
                        };
                        let _ = write.write_all(reply).await;
                    }
                });
            }
        });
        Self { addr, messages }
    }
}

impl SmtpSink {
    /// The `ARENA_SMTP_URL` that reaches this sink.
    pub fn url(&self) -> arena_api::settings::Secret {
        arena_api::settings::Secret::new(format!("smtp://{}", self.addr))
    }

    /// The next message, failing the test after 15 seconds.
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(std::time::Duration::from_secs(15), self.messages.recv())
            .await
            .expect("a message within 15 s")
            .expect("the sink is running")
    }
}

/// The first outbox message once `ready` holds for it, failing the test after 15 seconds.
pub async fn outbox_message_once(
    app: &crate::TestApp,
    ready: impl Fn(&arena_entity::mail::outbox_message::Model) -> bool,
) -> arena_entity::mail::outbox_message::Model {
    use sea_orm::{EntityTrait, QueryOrder};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let row = arena_entity::mail::outbox_message::Entity::find()
            .order_by_asc(arena_entity::mail::outbox_message::Column::Id)
            .one(&app.ctx.db)
            .await
            .expect("outbox")
            .expect("a message");
        if ready(&row) {
            return row;
        }
        assert!(std::time::Instant::now() < deadline, "never ready: {row:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
