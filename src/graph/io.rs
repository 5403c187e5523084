//! What a run takes ([`Input`]) and what it gives back ([`RunOutcome`]).

use serde_json::Value;

use super::interrupt::{Command, Interrupt};
use super::state::State;
use crate::saver::Config;

/// The input of a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// New values (a JSON object of channel values): starts a new run on the
    /// thread, from its latest checkpoint (or the one the config names).
    Values(Value),
    /// No new input: continue the thread where it stopped (after an error,
    /// an interrupt or a crash). At an older checkpoint (config with a
    /// `checkpoint_id` that is not the latest): replay from there, as a
    /// fork. On a thread with no checkpoint it is an error
    /// ([`GraphError::InvalidCommand`](crate::graph::GraphError::InvalidCommand)), as in LangGraph.
    Continue,
    /// Answer interrupts, update the state, or jump to nodes.
    Command(Command),
}

impl From<Value> for Input {
    fn from(value: Value) -> Self {
        Input::Values(value)
    }
}

impl From<Command> for Input {
    fn from(cmd: Command) -> Self {
        Input::Command(cmd)
    }
}

/// How a run ended without an error: done, or stopped for an interrupt.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    /// The state: every state channel with a value.
    pub values: Value,
    /// The nodes that run when the thread is continued; empty when the run
    /// is done.
    pub next: Vec<String>,
    /// The dynamic interrupts the run stopped on (answer them with
    /// [`Command::resume`]).
    pub interrupts: Vec<Interrupt>,
    /// The config of the last checkpoint (with a saver).
    pub config: Option<Config>,
}

impl RunOutcome {
    /// The values as a [`State`], for typed reads (`out.state().get::<T>(..)`).
    pub fn state(&self) -> State {
        State::from_value(self.values.clone())
    }

    /// Whether the run stopped before the end (dynamic or static interrupt).
    pub fn is_interrupted(&self) -> bool {
        !self.next.is_empty()
    }
}
