//! The full-screen view: a header with the connection's figures, a table
//! of streams (rate, total, queue, latency percentiles), the last events.
//! Drawn with ratatui on a thread of its own, which also reads the keys:
//! the terminal's blocking reads and writes never run on a tokio worker.

use std::io;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};
use ratatui::{DefaultTerminal, Frame};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use crate::events::{EventLine, KEEP};
use crate::figures::{Figures, bytes_text, count_text, latency_text, rate_text, state_name};
use crate::keys::{self, Input, Keys};

/// What one frame shows.
#[derive(Clone, Debug)]
pub(crate) struct Screen {
    /// What is watched (a profile and URL).
    pub(crate) title: String,
    /// The figures of the last second.
    pub(crate) figures: Figures,
    /// The last events, oldest first.
    pub(crate) events: Vec<EventLine>,
}

/// Draws `screen` on the whole frame.
pub(crate) fn draw(frame: &mut Frame<'_>, screen: &Screen) {
    let figures = &screen.figures;
    // The table first (its rows, header and borders), the events in what
    // is left, up to all of them.
    const HEADER: u16 = 5;
    const FOOTER: u16 = 1;
    let area = frame.area();
    let table_height = u16::try_from(figures.rows.len())
        .unwrap_or(u16::MAX)
        .saturating_add(3);
    let events_height = area
        .height
        .saturating_sub(HEADER + FOOTER)
        .saturating_sub(table_height)
        .min(KEEP as u16 + 2);
    let [header, streams, events, footer] = Layout::vertical([
        Constraint::Length(HEADER),
        Constraint::Min(0),
        Constraint::Length(events_height),
        Constraint::Length(FOOTER),
    ])
    .areas(area);
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let dim = Style::default().fg(Color::DarkGray);

    let state_style = match figures.state {
        hypersockets::ConnectionState::Connected => Style::default().fg(Color::Green),
        hypersockets::ConnectionState::ShuttingDown => Style::default().fg(Color::Red),
        _ => Style::default().fg(Color::Yellow),
    };
    let label = |text: &str| Span::styled(text.to_owned(), dim);
    let latency = &figures.latency;
    // Three short lines, so that 80 columns show them whole.
    let header_lines = vec![
        Line::from(vec![
            label("state "),
            Span::styled(
                state_name(figures.state),
                state_style.add_modifier(Modifier::BOLD),
            ),
            label("   up "),
            Span::raw(format!("{}s", figures.at.as_secs())),
            label("   reconnects "),
            Span::raw(figures.reconnects.to_string()),
            label("   gaps "),
            Span::raw(figures.gaps.to_string()),
            label("   errors "),
            Span::raw(figures.errors.to_string()),
            label("   dropped "),
            Span::raw(figures.dropped.to_string()),
        ]),
        Line::from(vec![
            label("messages "),
            Span::raw(count_text(figures.messages)),
            label("   rate "),
            Span::styled(rate_text(figures.rate), bold),
            label("   received "),
            Span::raw(bytes_text(figures.bytes)),
            label("   queued "),
            Span::raw(format!(
                "{} msgs / {}",
                count_text(figures.queued),
                bytes_text(figures.queued_bytes)
            )),
        ]),
        Line::from(vec![
            label("read→done "),
            label("p50 "),
            Span::raw(latency_text(latency.p50, latency.samples)),
            label("   p99 "),
            Span::raw(latency_text(latency.p99, latency.samples)),
            label("   max "),
            Span::raw(latency_text(latency.max, latency.samples)),
            label(&format!("   ({} timed)", count_text(latency.samples))),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(header_lines).block(Block::bordered().title(Span::styled(
            format!(" HyperSockets · {} ", screen.title),
            bold,
        ))),
        header,
    );

    let none = || "-".to_owned();
    let rows = figures.rows.iter().map(|row| {
        let lane = row.lane;
        let percentile = |pick: fn(&hypersockets::Percentiles) -> Duration| {
            lane.map_or_else(none, |lane| {
                latency_text(pick(&lane.latency), lane.latency.samples)
            })
        };
        Row::new(vec![
            Cell::from(row.name.clone()),
            Cell::from(rate_text(row.rate)),
            Cell::from(count_text(row.total)),
            Cell::from(lane.map_or_else(none, |lane| count_text(lane.queued))),
            Cell::from(lane.map_or_else(none, |lane| count_text(lane.high_water))),
            Cell::from(percentile(|latency| latency.p50)),
            Cell::from(percentile(|latency| latency.p99)),
            Cell::from(percentile(|latency| latency.max)),
        ])
    });
    // The names as wide as the longest (within reason), the rest to the right.
    let name_width = figures
        .rows
        .iter()
        .map(|row| row.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(14, 48) as u16
        + 2;
    let widths = [
        Constraint::Length(name_width),
        Constraint::Length(9),
        Constraint::Length(11),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Fill(1),
    ];
    let table_header = Row::new([
        "STREAM", "MSG/S", "TOTAL", "QUEUED", "HIGH", "P50", "P99", "MAX",
    ])
    .style(bold);
    frame.render_widget(
        Table::new(rows, widths).header(table_header).block(
            Block::bordered().title(" Streams (latency: socket read → handler done, since start) "),
        ),
        streams,
    );

    let event_lines: Vec<Line<'_>> = if screen.events.is_empty() {
        vec![Line::styled("(none yet)", dim)]
    } else {
        // The newest that fit.
        let fit = usize::from(events.height.saturating_sub(2));
        screen.events[screen.events.len().saturating_sub(fit)..]
            .iter()
            .map(|event| {
                Line::from(vec![
                    Span::styled(format!("{:>7.1}s  ", event.at.as_secs_f64()), dim),
                    Span::raw(event.text.as_str()),
                ])
            })
            .collect()
    };
    frame.render_widget(
        Paragraph::new(event_lines).block(Block::bordered().title(" Events ")),
        events,
    );
    frame.render_widget(
        Paragraph::new(Line::styled(" q or Ctrl-C: quit", dim)),
        footer,
    );
}

/// Why the view's thread asks the run to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// The user pressed `q`, `Esc` or Ctrl-C.
    Quit,
    /// The output failed (the terminal went away).
    Failed,
}

/// The full-screen view's thread: it owns the terminal, draws each
/// [`Screen`] it is sent, and sends the keys that quit.
#[derive(Debug)]
pub(crate) struct FullScreen {
    screens: mpsc::Sender<Screen>,
    thread: JoinHandle<io::Result<()>>,
}

impl FullScreen {
    /// Takes over the terminal (raw mode, the alternate screen) on a new
    /// thread; `requests` gets [`Request::Quit`] when the user quits.
    ///
    /// # Errors
    ///
    /// When the terminal cannot be set up (not a terminal).
    pub(crate) async fn start(requests: UnboundedSender<Request>) -> io::Result<Self> {
        let (screens, receiver) = mpsc::channel::<Screen>();
        let (ready, started) = oneshot::channel::<io::Result<()>>();
        let thread = std::thread::Builder::new()
            .name("hypersockets-view".to_owned())
            .spawn(move || {
                let terminal = match ratatui::try_init() {
                    Ok(terminal) => terminal,
                    Err(error) => {
                        // Whatever part was set up is undone.
                        let _ = ratatui::try_restore();
                        let _ = ready.send(Err(io::Error::new(error.kind(), error.to_string())));
                        return Err(error);
                    }
                };
                let _ = ready.send(Ok(()));
                let outcome = run(terminal, &receiver, &requests);
                let restored = ratatui::try_restore();
                if outcome.is_err() {
                    let _ = requests.send(Request::Failed);
                }
                outcome.and(restored)
            })?;
        match started.await {
            Ok(Ok(())) => Ok(Self { screens, thread }),
            // The thread has ended, or is about to: nothing to wait for.
            Ok(Err(error)) => Err(error),
            Err(_) => Err(io::Error::other("the view's thread ended at start")),
        }
    }

    /// Draws `screen` as soon as the thread gets to it.
    pub(crate) fn show(&self, screen: Screen) {
        // A thread that ended has said why through its requests.
        let _ = self.screens.send(screen);
    }

    /// Ends the view and gives the terminal back as it was. Blocks for at
    /// most the thread's wait for keys ([`keys::WAIT`]): call it off the
    /// runtime's workers.
    ///
    /// # Errors
    ///
    /// When drawing or restoring the terminal failed.
    pub(crate) fn finish(self) -> io::Result<()> {
        drop(self.screens);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the view's thread panicked")))
    }
}

/// The thread's loop: draw the newest screen (again when the terminal's
/// size changed), read keys, until the sender of screens is dropped.
fn run(
    mut terminal: DefaultTerminal,
    screens: &mpsc::Receiver<Screen>,
    requests: &UnboundedSender<Request>,
) -> io::Result<()> {
    let mut keys = Keys::open()?;
    let mut current: Option<Screen> = None;
    let mut dirty = false;
    let mut size = terminal.size()?;
    loop {
        // The newest of the screens waiting, if any.
        loop {
            match screens.try_recv() {
                Ok(screen) => {
                    current = Some(screen);
                    dirty = true;
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return Ok(()),
            }
        }
        let now = terminal.size()?;
        if now != size {
            size = now;
            dirty = true;
        }
        if dirty && let Some(screen) = &current {
            terminal.draw(|frame| draw(frame, screen))?;
            dirty = false;
        }
        match keys.wait(keys::WAIT)? {
            Input::Quit => {
                let _ = requests.send(Request::Quit);
            }
            Input::Gone => {
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the terminal hung up",
                ));
            }
            Input::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hypersockets::{ClientMetrics, ConnectionState, LaneMetricsSnapshot};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::figures::Sample;

    fn screen() -> Screen {
        let mut lane = LaneMetricsSnapshot::default();
        lane.key = "\"btcusdt@trade\"".to_owned();
        lane.delivered = 1_234;
        lane.latency.read_to_done.samples = 1_234;
        lane.latency.read_to_done.p50 = Duration::from_micros(85);
        lane.latency.read_to_done.p99 = Duration::from_micros(1_250);
        lane.latency.read_to_done.max = Duration::from_millis(3);
        let mut metrics = ClientMetrics::default();
        metrics.connection.messages_received = 1_300;
        metrics.connection.reconnects = 1;
        metrics.router.lanes = vec![lane];
        let before = Sample {
            at: Duration::from_secs(4),
            state: ConnectionState::Connected,
            metrics: ClientMetrics::default(),
            streams: BTreeMap::new(),
        };
        let now = Sample {
            at: Duration::from_secs(5),
            state: ConnectionState::Connected,
            metrics,
            streams: BTreeMap::from([("btcusdt@trade".to_owned(), 1_234)]),
        };
        Screen {
            title: "binance-spot ws://127.0.0.1:1/stream".to_owned(),
            figures: Figures::between(Some(&before), &now),
            events: vec![EventLine {
                at: Duration::from_millis(2_500),
                text: "reconnected".to_owned(),
            }],
        }
    }

    #[test]
    fn draws_the_title_the_streams_and_the_events() {
        let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
        let screen = screen();
        terminal.draw(|frame| draw(frame, &screen)).unwrap();
        let text: String = terminal
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|cell| cell.symbol())
            .collect::<Vec<_>>()
            .concat();
        for expected in [
            "HyperSockets · binance-spot ws://127.0.0.1:1/stream",
            "connected",
            "STREAM",
            "P99",
            "btcusdt@trade",
            "1234/s",
            "1,234",
            "85.0µs",
            "1.25ms",
            "reconnected",
            "Events",
        ] {
            assert!(text.contains(expected), "{expected:?} not drawn");
        }
    }

    fn text(terminal: &Terminal<TestBackend>) -> String {
        terminal
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|cell| cell.symbol())
            .collect::<Vec<_>>()
            .concat()
    }

    #[test]
    fn a_short_terminal_keeps_the_streams_and_the_newest_events() {
        let mut screen = screen();
        screen.events = (1..=5)
            .map(|i| EventLine {
                at: Duration::from_secs(i),
                text: format!("event number {i}"),
            })
            .collect();
        // 5 header, 1 footer, 4 for the table (1 row), 4 for events.
        let mut terminal = Terminal::new(TestBackend::new(100, 14)).unwrap();
        terminal.draw(|frame| draw(frame, &screen)).unwrap();
        let text = text(&terminal);
        assert!(text.contains("btcusdt@trade"));
        assert!(text.contains("event number 5") && text.contains("event number 4"));
        assert!(!text.contains("event number 3"), "only the newest that fit");
    }

    #[test]
    fn a_small_terminal_does_not_panic() {
        let mut terminal = Terminal::new(TestBackend::new(20, 5)).unwrap();
        let screen = screen();
        terminal.draw(|frame| draw(frame, &screen)).unwrap();
    }
}
