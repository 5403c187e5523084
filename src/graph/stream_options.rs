//! What a streamed run emits: its modes (one or several, as LangGraph's
//! `stream_mode` list), whether subgraphs' events are included, and how
//! many events may wait for the consumer.

use super::stream::StreamMode;

/// How many events may wait for a slow consumer before the run waits for
/// it, by default.
pub const DEFAULT_STREAM_CAPACITY: usize = 64;

/// The modes of a stream and how it is delivered, for
/// [`CompiledGraph::stream`](crate::graph::CompiledGraph::stream).
///
/// A [`StreamMode`], an array, a slice or a `Vec` of them converts into
/// it, so `app.stream(input, &config, StreamMode::Values)` and
/// `app.stream(input, &config, [StreamMode::Updates, StreamMode::Custom])`
/// both work; [`StreamEvent::mode`](crate::graph::StreamEvent::mode) tells
/// the events apart.
///
/// ```
/// use checkpointer::graph::{StreamMode, StreamOptions};
///
/// let options = StreamOptions::from([StreamMode::Updates, StreamMode::Custom])
///     .subgraphs(true)
///     .capacity(8);
/// assert!(options.has(StreamMode::Custom) && !options.has(StreamMode::Values));
/// assert_eq!(options.capacity_or_default(), 8);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StreamOptions {
    /// The modes streamed (each once, in the order given).
    pub modes: Vec<StreamMode>,
    /// Whether the events of subgraph runs are streamed too, as
    /// [`StreamEvent::Subgraph`](crate::graph::StreamEvent::Subgraph)
    /// (LangGraph's `subgraphs=True`). Off by default.
    pub subgraphs: bool,
    /// How many events may wait for the consumer; when that many wait, the
    /// run waits until the consumer reads one (`None`:
    /// [`DEFAULT_STREAM_CAPACITY`]; at least 1).
    pub capacity: Option<usize>,
}

impl StreamOptions {
    /// No mode yet (only a final interrupt is streamed).
    pub fn new() -> Self {
        StreamOptions::default()
    }

    /// Adds `mode`.
    #[must_use]
    pub fn mode(mut self, mode: StreamMode) -> Self {
        if !self.modes.contains(&mode) {
            self.modes.push(mode);
        }
        self
    }

    /// Sets [`subgraphs`](Self::subgraphs).
    #[must_use]
    pub fn subgraphs(mut self, subgraphs: bool) -> Self {
        self.subgraphs = subgraphs;
        self
    }

    /// Sets [`capacity`](Self::capacity).
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Whether `mode` is streamed.
    pub fn has(&self, mode: StreamMode) -> bool {
        self.modes.contains(&mode)
    }

    /// The bound of the stream's channel.
    pub fn capacity_or_default(&self) -> usize {
        self.capacity.unwrap_or(DEFAULT_STREAM_CAPACITY).max(1)
    }
}

impl From<StreamMode> for StreamOptions {
    fn from(mode: StreamMode) -> Self {
        StreamOptions::new().mode(mode)
    }
}

impl From<&[StreamMode]> for StreamOptions {
    fn from(modes: &[StreamMode]) -> Self {
        modes.iter().fold(StreamOptions::new(), |o, &m| o.mode(m))
    }
}

impl<const N: usize> From<[StreamMode; N]> for StreamOptions {
    fn from(modes: [StreamMode; N]) -> Self {
        StreamOptions::from(&modes[..])
    }
}

impl From<Vec<StreamMode>> for StreamOptions {
    fn from(modes: Vec<StreamMode>) -> Self {
        StreamOptions::from(&modes[..])
    }
}
