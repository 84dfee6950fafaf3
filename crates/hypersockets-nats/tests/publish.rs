//! Publishing lanes' messages to JetStream: dedupe across nodes, bounded
//! waits, failures as events, and what consumers read back.

mod support;

use std::time::Duration;

use hypersockets::{
    MessageContext, MessageHandler, StaleCause, StreamId, StreamSequence, Venue, WsMessage,
};
use hypersockets_nats::{
    ConsumerConfig, NatsError, PublisherConfig, PublisherEvent, Serialized, StartAt,
};

use support::{bus, config, server};

fn trade(id: u64) -> WsMessage {
    WsMessage::text(format!(
        r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","s":"BTCUSDT","t":{id},"p":"1.0"}}}}"#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_publishing_one_stream_store_each_message_once_in_order() {
    let Some(server) = server().await else { return };
    let config = config();
    let venue = Venue::binance_spot();
    let (first, second) = (bus(&server, &config).await, bus(&server, &config).await);
    let a = first
        .venue_publisher(&venue, PublisherConfig::default())
        .unwrap();
    let b = second
        .venue_publisher(&venue, PublisherConfig::default())
        .unwrap();
    let mut on_a = a.handler("btcusdt@trade").unwrap();
    let mut on_b = b.handler("btcusdt@trade").unwrap();
    // Node b joins late and overlaps: 1..=600 from a, 301..=1000 from b,
    // interleaved where both run, each on a connection of its own (b's
    // first message waits until a's copy of the one before it is out).
    let (on_connection_a, on_connection_b) = (MessageContext::now(1), MessageContext::now(7));
    for id in 1..=1000 {
        if id <= 600 {
            on_a.handle_in_context(trade(id), on_connection_a)
                .await
                .unwrap();
        }
        if id > 300 {
            on_b.handle_in_context(trade(id), on_connection_b)
                .await
                .unwrap();
        }
    }
    a.flush().await;
    b.flush().await;
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!((sa.published, sb.published), (600, 700));
    assert_eq!(sa.stored + sb.stored, 1000, "{sa:?} {sb:?}");
    assert_eq!(sa.duplicates + sb.duplicates, 300, "{sa:?} {sb:?}");
    assert_eq!(
        (sa.failed, sb.failed, sa.in_flight, sb.in_flight),
        (0, 0, 0, 0)
    );

    let mut consumer = first.consumer(ConsumerConfig::default()).await.unwrap();
    for id in 1..=1000 {
        let delivery = consumer.next().await.unwrap().unwrap();
        assert_eq!(delivery.message, trade(id));
        assert_eq!(delivery.subject.venue(), "binance-spot");
        assert_eq!(delivery.subject.stream(), "btcusdt@trade");
        assert_eq!(delivery.sequence.map(|at| at.number), Some(id));
        assert_eq!(delivery.gap, None);
        assert_eq!(delivery.position, id);
    }
    assert_eq!(consumer.stats().delivered, 1000);
}

/// Numbered messages of a book: `previous` links them.
fn level(stream: StreamId, number: u64) -> (StreamSequence, String) {
    (
        StreamSequence::new(stream, number).previous(number - 1),
        format!("level {number}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_see_gaps_drop_repeats_and_get_names_and_binary_back() {
    let Some(server) = server().await else { return };
    let config = config();
    let bus = bus(&server, &config).await;
    let publisher = bus.publisher("htx", PublisherConfig::default()).unwrap();
    let dotted = "market.btcusdt.depth.step0";
    let id = StreamId::of(&["any"]);
    let mut handler = publisher
        .handler_with(dotted, |(at, text): &(StreamSequence, String)| {
            Ok::<_, NatsError>(Some(Serialized::new(text.clone()).sequence(Some(*at))))
        })
        .unwrap();
    for number in [1, 2, 3, 6, 7] {
        handler.handle(level(id, number)).await.unwrap();
    }
    publisher.flush().await;
    // A repeat of level 2 that JetStream stores (another id; as a
    // redelivery would come): the consumer drops it.
    let raw = async_nats::connect(server.url()).await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Hs-Number", "2");
    headers.insert("Hs-Previous", "1");
    let subject = format!(
        "{}.htx.market%2Ebtcusdt%2Edepth%2Estep0",
        config_prefix(&bus)
    );
    // Stored (acknowledged) before what comes next.
    async_nats::jetstream::new(raw)
        .publish_with_headers(subject, headers, "level 2 again".into())
        .await
        .unwrap()
        .await
        .unwrap();
    // A snapshot with a lower number: a venue's restart, delivered.
    handler
        .handle((
            StreamSequence::new(id, 4).reset(),
            "restart at 4".to_owned(),
        ))
        .await
        .unwrap();
    // A newer one: the stream goes on from it.
    handler
        .handle((
            StreamSequence::new(id, 20).reset(),
            "snapshot 20".to_owned(),
        ))
        .await
        .unwrap();
    handler.handle(level(id, 21)).await.unwrap();
    let mut binary = publisher
        .handler_with("raw-bytes", |bytes: &Vec<u8>| {
            Ok::<_, NatsError>(Some(Serialized::new(bytes.clone()).binary(true)))
        })
        .unwrap();
    binary.handle(vec![0xff, 0x00, 0x80]).await.unwrap();
    publisher.flush().await;
    assert_eq!(publisher.stats().stored, 9);
    assert_eq!(publisher.stats().duplicates, 0);

    let mut consumer = bus
        .consumer(ConsumerConfig::default().filter(format!("{}.htx.>", config_prefix(&bus))))
        .await
        .unwrap()
        .decode(|message: WsMessage| {
            Ok::<_, NatsError>(String::from_utf8_lossy(message.as_bytes()).into_owned())
        });
    let mut seen = Vec::new();
    while seen.len() < 8 {
        let delivery = consumer.next().await.unwrap().unwrap();
        assert_eq!(delivery.subject.venue(), "htx");
        seen.push((
            delivery.subject.stream().to_owned(),
            delivery.message,
            delivery.gap,
        ));
    }
    let book = |text: &str, gap: Option<StaleCause>| (dotted.to_owned(), text.to_owned(), gap);
    assert_eq!(
        seen,
        vec![
            book("level 1", None),
            book("level 2", None),
            book("level 3", None),
            book("level 6", Some(StaleCause::Gap { last: 3, next: 6 })),
            book("level 7", None),
            book("restart at 4", None),
            book("snapshot 20", None),
            book("level 21", None),
        ]
    );
    let last = consumer.next().await.unwrap().unwrap();
    assert_eq!(last.subject.stream(), "raw-bytes");
    assert_eq!(last.message, "\u{fffd}\0\u{fffd}");
    let stats = consumer.stats();
    assert_eq!((stats.delivered, stats.duplicates, stats.gaps), (9, 1, 1));
}

fn config_prefix(bus: &hypersockets_nats::Bus) -> String {
    bus.config().prefix_of().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_waits_at_most_max_wait_when_nats_is_gone_and_an_event_says_so() {
    let Some(server) = server().await else { return };
    let config = config();
    let bus = bus(&server, &config).await;
    let publisher = bus
        .publisher(
            "binance-spot",
            PublisherConfig::default()
                .max_in_flight(2)
                .max_wait(Duration::from_millis(200))
                .ack_timeout(Duration::from_millis(500)),
        )
        .unwrap();
    let mut events = publisher.events();
    let mut handler = publisher.handler("btcusdt@trade").unwrap();
    handler.handle(trade(1)).await.unwrap();
    publisher.flush().await;
    assert_eq!(publisher.stats().stored, 1);
    drop(server);
    // Two publishes fill the room; their acks never come.
    let mut refused = 0;
    for id in 2..=5 {
        if let Err(error) = handler.handle(trade(id)).await {
            assert!(
                error.to_string().contains("refused") || error.to_string().contains("failed"),
                "{error}"
            );
            refused += 1;
        }
    }
    assert!(refused >= 2, "{:?}", publisher.stats());
    match tokio::time::timeout(support::WAIT, events.recv())
        .await
        .unwrap()
        .unwrap()
    {
        PublisherEvent::Failed { error, .. } => {
            assert!(
                matches!(
                    *error,
                    NatsError::Backpressure { .. } | NatsError::Publish { .. }
                ),
                "{error:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    publisher.flush().await;
    let stats = publisher.stats();
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.stored, 1);
    assert_eq!(stats.refused + stats.failed, 4, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_starting_at_new_sees_only_later_messages_and_a_durable_one_resumes() {
    let Some(server) = server().await else { return };
    let config = config();
    let bus = bus(&server, &config).await;
    let publisher = bus
        .venue_publisher(&Venue::binance_spot(), PublisherConfig::default())
        .unwrap();
    let mut handler = publisher.handler("btcusdt@trade").unwrap();
    for id in 1..=3 {
        handler.handle(trade(id)).await.unwrap();
    }
    publisher.flush().await;
    let mut fresh = bus
        .consumer(ConsumerConfig::default().start_at(StartAt::New))
        .await
        .unwrap();
    let durable = || ConsumerConfig::default().durable(Some("resumes".into()));
    let mut first = bus.consumer(durable()).await.unwrap();
    assert_eq!(first.next().await.unwrap().unwrap().message, trade(1));
    assert_eq!(first.next().await.unwrap().unwrap().message, trade(2));
    // Asking for the third acknowledged the second.
    assert_eq!(first.next().await.unwrap().unwrap().message, trade(3));
    // Done with the third.
    first.close().await.unwrap();
    handler.handle(trade(4)).await.unwrap();
    publisher.flush().await;
    assert_eq!(fresh.next().await.unwrap().unwrap().message, trade(4));
    let mut again = bus.consumer(durable()).await.unwrap();
    assert_eq!(again.next().await.unwrap().unwrap().message, trade(4));
    assert_eq!(again.stats().duplicates, 0);
}
