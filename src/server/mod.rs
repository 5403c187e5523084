//! HTTP front doors (feature `server`): the web page that browses thread
//! history ([`ui`]).

pub mod ui;
