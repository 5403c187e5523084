//! The debug spans of a run, seen through a small recording subscriber.

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use super::{CompileOptions, END, START, StateGraph, Update};
use crate::{Config, InMemorySaver};

/// Every span as `name field=value ...`, by span id (1-based), with the
/// fields recorded later appended.
#[derive(Clone, Default)]
struct Recorder {
    spans: Arc<Mutex<Vec<String>>>,
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut line = span.metadata().name().to_owned();
        span.record(&mut Fields(&mut line));
        let mut spans = self.spans.lock().expect("not poisoned");
        spans.push(line);
        Id::from_u64(spans.len() as u64)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.spans.lock().expect("not poisoned");
        if let Some(line) = usize::try_from(span.into_u64() - 1)
            .ok()
            .and_then(|i| spans.get_mut(i))
        {
            values.record(&mut Fields(line));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn every_superstep_input_and_update_has_a_debug_span_with_its_thread_and_step() {
    let mut graph = StateGraph::new();
    graph
        .add_channel("x", super::Reducer::last_value())
        .add_node(
            "a",
            |_state, _ctx| async move { Ok(Update::new().set("x", 1)) },
        )
        .add_edge(START, "a")
        .add_edge("a", END);
    let app = graph
        .compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))
        .expect("valid graph");
    let recorder = Recorder::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    tracing::subscriber::with_default(recorder.clone(), || {
        runtime.block_on(async {
            let thread = Config::thread("t-spans");
            app.invoke(json!({}), &thread).await.expect("runs");
            app.update_state(&thread, json!({"x": 2}), None)
                .await
                .expect("updates");
        });
    });
    let spans = recorder.spans.lock().expect("not poisoned").clone();
    let steps: Vec<&String> = spans
        .iter()
        .filter(|s| s.starts_with("graph_step"))
        .collect();
    // The __start__ step and a's step.
    assert_eq!(steps.len(), 2, "{spans:?}");
    for (i, span) in steps.iter().enumerate() {
        assert!(span.contains("thread_id=t-spans"), "{span}");
        assert!(span.contains(&format!(" step={i}")), "{span}");
        assert!(span.contains("checkpoint_id="), "{span}");
        assert!(span.contains("outcome=checkpointed"), "{span}");
    }
    for name in ["graph_input", "graph_update_state"] {
        assert!(
            spans
                .iter()
                .any(|s| s.starts_with(name) && s.contains("thread_id=t-spans")),
            "{name}: {spans:?}"
        );
    }
}
