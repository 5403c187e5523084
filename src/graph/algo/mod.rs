//! The pure step functions of the runner, as LangGraph keeps them in
//! `pregel/_algo.py`: which tasks a checkpoint runs, what a node's update
//! writes along its edges, how a step's writes change the checkpoint, and
//! what the saved pending writes of a checkpoint say.
//!
//! No I/O and no async here: the run state machine (`run/`),
//! `update_state` and the state snapshots all read checkpoints through
//! these functions, so each rule exists once.

mod apply;
mod edges;
mod pending;
mod read;
mod tasks;

#[cfg(test)]
mod fixture;

pub(crate) use apply::{TaskWrites, apply_writes, ordered_writes};
pub(crate) use edges::{goto_writes, node_writes};
pub(crate) use pending::{
    INPUT_NODE, finished_writes, null_task_writes, pending_value, shared_resume, taken_resume,
    task_interrupts,
};
pub(crate) use read::{last_node, state_values};
pub(crate) use tasks::{fresh_triggers, prepare_tasks};
