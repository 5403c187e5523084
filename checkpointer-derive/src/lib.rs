//! `#[derive(GraphState)]` for `checkpointer`: a struct as the typed state
//! of a graph, one channel per field, a reducer per field.
//!
//! Use it through `checkpointer::graph::GraphState` (feature `derive`,
//! on by default); the documentation and examples live there. This crate
//! only writes the code: the trait impl, and the partial update type
//! `<Name>Update` whose fields are all `Option`s, with its conversions
//! (into the graph's `Update`, a `TypedCommand` and a `TypedInput`).

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Path, Type, parse_macro_input};

/// Derives `checkpointer::graph::GraphState` for a struct with named
/// fields, and writes its partial update type `<Name>Update`.
///
/// Field attributes (`#[state(...)]`), one reducer each; without one the
/// field is a last-value channel. A field with no value (a channel never
/// written) reads as `T::default()`, so its type implements `Default`;
/// `#[state(required)]` makes no value a decode error instead (and drops
/// that bound). The reducers:
///
/// - `append`: a list; updates are concatenated (reads `[]` unwritten);
/// - `add`: updates are added with `+` (reads `T::default()` unwritten);
/// - `merge`: a map; an update's keys replace or join the current ones
///   (reads `{}` unwritten);
/// - `reduce = path::to::f`: `f(current: T, update: T) -> T`; the first
///   write is stored as it is, as LangGraph does for a reducer without a
///   default; add `default` (`#[state(reduce = f, default)]`) to start
///   from `T::default()` instead.
#[proc_macro_derive(GraphState, attributes(state))]
pub fn derive_graph_state(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// How one field's writes combine.
enum FieldReducer {
    LastValue,
    Append,
    Add,
    Merge,
    Reduce { f: Path, default: bool },
}

impl FieldReducer {
    /// Whether an unwritten channel reads as the type's default.
    fn has_default(&self) -> bool {
        match self {
            FieldReducer::LastValue => false,
            FieldReducer::Append | FieldReducer::Add | FieldReducer::Merge => true,
            FieldReducer::Reduce { default, .. } => *default,
        }
    }

    fn expr(&self, channel: &LitStr, ty: &Type) -> Tokens {
        let graph = quote!(::checkpointer::graph);
        match self {
            FieldReducer::LastValue => quote!(#graph::Reducer::last_value()),
            FieldReducer::Append => quote!(#graph::Reducer::append()),
            FieldReducer::Add => quote!(#graph::__derive::add::<#ty>(#channel)),
            FieldReducer::Merge => quote!(#graph::__derive::merge(#channel)),
            FieldReducer::Reduce { f, default: false } => {
                quote!(#graph::__derive::reduce::<#ty, _>(#channel, #f))
            }
            FieldReducer::Reduce { f, default: true } => {
                quote!(#graph::__derive::reduce_from_default::<#ty, _>(#channel, #f))
            }
        }
    }
}

/// A field of the struct, as the generated code needs it.
struct StateField {
    ident: Ident,
    ty: Type,
    reducer: FieldReducer,
    /// `#[state(required)]`: no value is a decode error, not `T::default()`.
    required: bool,
    doc: String,
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "#[derive(GraphState)] takes a struct without generic parameters",
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(GraphState)] takes a struct with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            &data.fields,
            "#[derive(GraphState)] takes a struct with named fields",
        ));
    };
    let fields = named
        .named
        .iter()
        .map(|f| {
            let ident = f.ident.clone().ok_or_else(|| {
                syn::Error::new_spanned(f, "#[derive(GraphState)] needs named fields")
            })?;
            let (reducer, required) = field_reducer(&f.attrs)?;
            Ok(StateField {
                reducer,
                required,
                doc: format!("The update of [`{}::{ident}`].", input.ident),
                ty: f.ty.clone(),
                ident,
            })
        })
        .collect::<syn::Result<Vec<_>>>()?;
    let update = update_type(input, &fields);
    let state_impl = state_impl(input, &fields);
    Ok(quote!(#update #state_impl))
}

/// The reducer a field's `#[state(...)]` attributes name, and whether it
/// is `required`.
fn field_reducer(attrs: &[syn::Attribute]) -> syn::Result<(FieldReducer, bool)> {
    let mut reducer = FieldReducer::LastValue;
    let mut default = false;
    let mut required = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("state")) {
        attr.parse_nested_meta(|meta| {
            let chosen = if meta.path.is_ident("append") {
                FieldReducer::Append
            } else if meta.path.is_ident("add") {
                FieldReducer::Add
            } else if meta.path.is_ident("merge") {
                FieldReducer::Merge
            } else if meta.path.is_ident("reduce") {
                FieldReducer::Reduce {
                    f: meta.value()?.parse()?,
                    default: false,
                }
            } else if meta.path.is_ident("default") {
                default = true;
                return Ok(());
            } else if meta.path.is_ident("required") {
                required = true;
                return Ok(());
            } else {
                return Err(meta.error(
                    "expected `append`, `add`, `merge`, `reduce = path::to::fn`, `default` \
                     or `required`",
                ));
            };
            if !matches!(reducer, FieldReducer::LastValue) {
                return Err(meta.error("a field takes one reducer"));
            }
            reducer = chosen;
            Ok(())
        })?;
    }
    match (&mut reducer, default) {
        (FieldReducer::Reduce { default: d, .. }, true) => *d = true,
        (_, true) => {
            return Err(syn::Error::new_spanned(
                attrs.first(),
                "`default` goes with `reduce = ...` (the other reducers have one already)",
            ));
        }
        _ => {}
    }
    if required && reducer.has_default() {
        return Err(syn::Error::new_spanned(
            attrs.first(),
            "`required` goes with a field whose reducer has no default",
        ));
    }
    Ok((reducer, required))
}

/// `<Name>Update`: every field an `Option`, a setter per field, and the
/// conversions into the graph's `Update` and `TypedInput`.
fn update_type(input: &DeriveInput, fields: &[StateField]) -> Tokens {
    let (name, vis) = (&input.ident, &input.vis);
    let update = format_ident!("{name}Update");
    let doc = format!(
        "A partial update of [`{name}`], as a node returns it: the fields set \
         are written (each through its reducer), the others are not."
    );
    let idents: Vec<&Ident> = fields.iter().map(|f| &f.ident).collect();
    let types: Vec<&Type> = fields.iter().map(|f| &f.ty).collect();
    let docs: Vec<&String> = fields.iter().map(|f| &f.doc).collect();
    let channels: Vec<LitStr> = idents
        .iter()
        .map(|i| LitStr::new(&i.to_string(), i.span()))
        .collect();
    let graph = quote!(::checkpointer::graph);
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug, Default, PartialEq)]
        #vis struct #update {
            #( #[doc = #docs] pub #idents: ::core::option::Option<#types>, )*
        }

        impl #update {
            #(
                #[doc = #docs]
                #[must_use]
                pub fn #idents(mut self, value: impl ::core::convert::Into<#types>) -> Self {
                    self.#idents = ::core::option::Option::Some(value.into());
                    self
                }
            )*
        }

        impl ::core::convert::From<#update> for #graph::Update {
            fn from(update: #update) -> Self {
                let mut out = #graph::Update::new();
                #(
                    if let ::core::option::Option::Some(value) = update.#idents {
                        out = out.set(#channels, value);
                    }
                )*
                out
            }
        }

        impl ::core::convert::From<#update> for #graph::TypedCommand<#name> {
            fn from(update: #update) -> Self {
                #graph::TypedCommand::new(update)
            }
        }

        impl ::core::convert::From<#update> for #graph::TypedInput<#name> {
            fn from(update: #update) -> Self {
                #graph::TypedInput::Values(update)
            }
        }
    }
}

/// `impl GraphState`: the channels and the decoding, field by field.
fn state_impl(input: &DeriveInput, fields: &[StateField]) -> Tokens {
    let name = &input.ident;
    let update = format_ident!("{name}Update");
    let type_name = LitStr::new(&name.to_string(), name.span());
    let graph = quote!(::checkpointer::graph);
    let mut channels = Vec::new();
    let mut decodes = Vec::new();
    let mut update_decodes = Vec::new();
    let mut names = Vec::new();
    for f in fields {
        let (ident, ty) = (&f.ident, &f.ty);
        let channel = LitStr::new(&ident.to_string(), ident.span());
        let reducer = f.reducer.expr(&channel, ty);
        channels.push(quote!((#channel, #reducer)));
        update_decodes.push(
            quote!(#ident: #graph::__derive::update_field::<#ty>(writes, #type_name, #channel)?),
        );
        names.push(channel.clone());
        decodes.push(if f.required {
            quote!(#ident: #graph::__derive::field::<#ty>(state, #type_name, #channel)?)
        } else {
            quote!(#ident: #graph::__derive::field_or_default::<#ty>(state, #type_name, #channel)?)
        });
    }
    quote! {
        impl #graph::GraphState for #name {
            type Update = #update;

            fn channels() -> ::std::vec::Vec<(&'static str, #graph::Reducer)> {
                ::std::vec![#(#channels),*]
            }

            fn from_state(
                state: &#graph::State,
            ) -> ::core::result::Result<Self, #graph::StateDecodeError> {
                ::core::result::Result::Ok(#name { #(#decodes,)* })
            }

            fn decode_update(
                writes: &#graph::__derive::Value,
            ) -> ::core::result::Result<#update, #graph::StateDecodeError> {
                let writes = #graph::__derive::update_object(writes, #type_name, &[#(#names),*])?;
                ::core::result::Result::Ok(#update { #(#update_decodes,)* })
            }
        }
    }
}
