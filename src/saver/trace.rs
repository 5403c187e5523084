//! `tracing` spans around saver calls: one `debug` span per call, named
//! `saver`, with the backend, the operation, the thread, namespace and
//! checkpoint it works on, and its outcome. With no subscriber (or none
//! that wants `debug`), a call costs one check of a cached flag: no field
//! is evaluated, nothing is formatted.

use tracing::field::Empty;

use super::config::Config;
use super::error::Result;

/// What a call works on, for its span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    operation: &'static str,
    thread_id: Option<&'a str>,
    ns: Option<&'a str>,
    checkpoint_id: Option<&'a str>,
}

impl<'a> Call<'a> {
    /// A call on nothing in particular (`delete_for_runs`, `prune`).
    pub(crate) fn new(operation: &'static str) -> Self {
        Call {
            operation,
            thread_id: None,
            ns: None,
            checkpoint_id: None,
        }
    }

    /// A call on a thread.
    pub(crate) fn thread(operation: &'static str, thread_id: &'a str) -> Self {
        Call {
            thread_id: Some(thread_id),
            ..Call::new(operation)
        }
    }

    /// A call on what `config` names.
    pub(crate) fn config(operation: &'static str, config: Option<&'a Config>) -> Self {
        match config {
            Some(config) => Call {
                operation,
                thread_id: Some(&config.thread_id),
                ns: Some(config.ns()),
                checkpoint_id: config.checkpoint_id.as_deref(),
            },
            None => Call::new(operation),
        }
    }

    /// A call that stores checkpoint `checkpoint_id` with `config`.
    pub(crate) fn put(operation: &'static str, config: &'a Config, checkpoint_id: &'a str) -> Self {
        Call {
            checkpoint_id: Some(checkpoint_id),
            ..Call::config(operation, Some(config))
        }
    }
}

/// Runs `f` inside the span of `call` on `backend`, and records how it
/// ended.
pub(crate) fn traced<T>(
    backend: &'static str,
    call: Call<'_>,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let span = tracing::debug_span!(
        "saver",
        backend,
        operation = call.operation,
        thread_id = call.thread_id,
        checkpoint_ns = call.ns,
        checkpoint_id = call.checkpoint_id,
        outcome = Empty,
        error = Empty,
    );
    if span.is_disabled() {
        return f();
    }
    let result = span.in_scope(f);
    match &result {
        Ok(_) => span.record("outcome", "ok"),
        Err(e) => span
            .record("outcome", "error")
            .record("error", tracing::field::display(e)),
    };
    result
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    use super::*;

    /// A subscriber that keeps every field of every span as text.
    #[derive(Default, Clone)]
    struct Fields(Arc<Mutex<Vec<(String, String)>>>);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let mut fields = self.0.lock().unwrap();
            fields.push((field.name().to_owned(), format!("{value:?}")));
        }
    }

    impl Subscriber for Fields {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            span.record(&mut self.clone());
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, values: &Record<'_>) {
            values.record(&mut self.clone());
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {}
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn a_span_names_the_call_and_its_outcome() {
        let fields = Fields::default();
        let config = Config::thread("t1")
            .with_ns("n")
            .with_checkpoint_id("parent");
        tracing::subscriber::with_default(fields.clone(), || {
            let _ = traced("memory", Call::put("put", &config, "child"), || Ok(()));
            let _ = traced::<()>("memory", Call::thread("delete_thread", "t2"), || {
                Err(crate::Error::ThreadNotFound {
                    thread_id: "t2".into(),
                })
            });
        });
        let got = fields.0.lock().unwrap().clone();
        let has = |k: &str, v: &str| got.iter().any(|(a, b)| a == k && b.contains(v));
        assert!(has("operation", "put") && has("thread_id", "t1"), "{got:?}");
        assert!(
            has("checkpoint_ns", "n") && has("checkpoint_id", "child"),
            "{got:?}"
        );
        assert!(has("backend", "memory") && has("outcome", "ok"), "{got:?}");
        assert!(has("outcome", "error") && has("error", "t2"), "{got:?}");
    }

    #[test]
    fn a_call_without_subscriber_runs_and_returns() {
        let config = Config::thread("t").with_checkpoint_id("c");
        let out = traced("test", Call::config("get_tuple", Some(&config)), || Ok(7));
        assert_eq!(out.ok(), Some(7));
        let err = traced::<()>("test", Call::thread("delete_thread", "t"), || {
            Err(crate::Error::ThreadNotFound {
                thread_id: "t".into(),
            })
        });
        assert!(err.is_err());
    }
}
