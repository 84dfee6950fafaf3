//! Message handlers: synchronous and asynchronous closures and a stateful
//! struct handler, driven by a tiny single-poll executor.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};

use hypersockets_core::{BoxError, MessageHandler, async_handler_fn, handler_fn};

/// Polls a future once with a no-op waker. The handlers here never wait on
/// anything, so one poll must finish them.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the handler future was pending"),
    }
}

/// Runs a handler over messages the way a lane does: in order, one at a time.
fn run<M, H: MessageHandler<M>>(
    handler: &mut H,
    messages: impl IntoIterator<Item = M>,
) -> Vec<Result<(), BoxError>> {
    messages
        .into_iter()
        .map(|message| block_on(handler.handle(message)))
        .collect()
}

#[derive(Debug, PartialEq, Eq)]
struct Negative(i64);

impl fmt::Display for Negative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "negative quantity {}", self.0)
    }
}

impl std::error::Error for Negative {}

#[test]
fn handler_fn_runs_the_closure_with_its_state() {
    let (tx, rx) = mpsc::channel();
    let mut total = 0i64;
    let mut handler = handler_fn(move |qty: i64| {
        if qty < 0 {
            return Err(Negative(qty));
        }
        total += qty;
        tx.send(total).unwrap();
        Ok(())
    });
    let results = run(&mut handler, [1, 2, -5, 3]);
    assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok());

    // The error is boxed with its type intact.
    let err = results[2].as_ref().unwrap_err();
    assert_eq!(err.to_string(), "negative quantity -5");
    assert_eq!(err.downcast_ref::<Negative>(), Some(&Negative(-5)));

    // The closure's state carried over between calls; the failed one changed nothing.
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 3, 6]);
    assert_eq!(format!("{handler:?}"), "FnHandler");
}

#[test]
fn handler_fn_accepts_string_errors_and_infallible() {
    let mut failing = handler_fn(|text: String| Err::<(), _>(format!("cannot handle {text}")));
    let err = block_on(failing.handle("x".to_owned())).unwrap_err();
    assert_eq!(err.to_string(), "cannot handle x");

    let mut seen = Vec::new();
    let mut infallible = handler_fn(move |n: u8| {
        seen.push(n);
        assert_eq!(seen.len(), usize::from(n));
        Ok::<_, std::convert::Infallible>(())
    });
    assert!(run(&mut infallible, 1..=5).iter().all(Result::is_ok));
}

#[test]
fn async_handler_fn_runs_the_future() {
    let (tx, rx) = mpsc::channel::<String>();
    let mut handler = async_handler_fn(move |text: String| {
        let tx = tx.clone();
        async move {
            if text.is_empty() {
                return Err(Negative(0));
            }
            // Awaiting a ready future does not suspend.
            let upper = std::future::ready(text.to_uppercase()).await;
            tx.send(upper).unwrap();
            Ok(())
        }
    });
    let results = run(
        &mut handler,
        ["a".to_owned(), String::new(), "b".to_owned()],
    );
    assert!(results[0].is_ok() && results[2].is_ok());
    let err = results[1].as_ref().unwrap_err();
    assert_eq!(err.downcast_ref::<Negative>(), Some(&Negative(0)));
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), ["A", "B"]);
    assert_eq!(format!("{handler:?}"), "AsyncFnHandler");
}

#[test]
fn async_handler_fn_with_box_error() {
    let mut handler = async_handler_fn(|n: u32| async move {
        if n.is_multiple_of(2) {
            Ok(())
        } else {
            Err::<(), BoxError>(format!("odd {n}").into())
        }
    });
    let results = run(&mut handler, [2, 3]);
    assert!(results[0].is_ok());
    assert_eq!(results[1].as_ref().unwrap_err().to_string(), "odd 3");
}

#[test]
fn async_closure_runs_when_handle_is_called() {
    // The closure is called by `handle` itself; only its future waits for a poll.
    let (tx, rx) = mpsc::channel();
    let mut handler = async_handler_fn(move |n: u32| {
        tx.send(n).unwrap();
        async { Ok::<_, BoxError>(()) }
    });
    let future = handler.handle(1);
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1]);
    assert!(block_on(future).is_ok());
}

/// A stateful handler: a tiny order book side.
#[derive(Debug, Default)]
struct Book {
    levels: std::collections::BTreeMap<u64, u64>,
    updates: usize,
}

struct Level {
    price: u64,
    qty: u64,
}

impl MessageHandler<Level> for Book {
    async fn handle(&mut self, level: Level) -> Result<(), BoxError> {
        self.updates += 1;
        if level.price == 0 {
            return Err("price zero".into());
        }
        if level.qty == 0 {
            self.levels.remove(&level.price);
        } else {
            self.levels.insert(level.price, level.qty);
        }
        Ok(())
    }
}

#[test]
fn struct_handler_owns_its_state() {
    let mut book = Book::default();
    let results = run(
        &mut book,
        [
            Level { price: 100, qty: 5 },
            Level { price: 101, qty: 7 },
            Level { price: 0, qty: 1 },
            Level { price: 100, qty: 0 },
            Level { price: 102, qty: 1 },
        ],
    );
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    assert_eq!(results[2].as_ref().unwrap_err().to_string(), "price zero");
    assert_eq!(book.updates, 5);
    assert_eq!(
        book.levels.into_iter().collect::<Vec<_>>(),
        [(101, 7), (102, 1)]
    );
}

#[test]
fn handler_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let mut sync = handler_fn(|_: u8| Ok::<_, BoxError>(()));
    let future = sync.handle(1);
    assert_send(&future);
    drop(future);
    let mut book = Book::default();
    let future = book.handle(Level { price: 1, qty: 1 });
    assert_send(&future);
    block_on(future).unwrap();
}
