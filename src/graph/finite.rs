//! Finding a NaN or an infinity in a value before it becomes JSON.
//!
//! `serde_json` turns a non-finite float into `null` without a word, so a
//! state value with one would be stored as `null`. [`check`] walks the
//! value as serde sees it and names the first non-finite float's path.

use std::fmt;

use serde::ser::{self, Serialize};

/// Where a non-finite float is (`$.scores[2]`) and what it is.
#[derive(Debug)]
pub(crate) struct NonFinite(String);

impl fmt::Display for NonFinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NonFinite {}

impl ser::Error for NonFinite {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        NonFinite(msg.to_string())
    }
}

/// `Err` naming the path of the first NaN or infinity in `value` (JSON
/// cannot hold one); `Ok` otherwise, also when `value` fails to serialise
/// for another reason (the JSON conversion then reports that).
pub(crate) fn check<T: Serialize + ?Sized>(value: &T) -> Result<(), String> {
    match value.serialize(Checker {
        path: "$".to_owned(),
    }) {
        Err(NonFinite(m)) if m.starts_with("non-finite:") => {
            Err(m.trim_start_matches("non-finite:").to_owned())
        }
        _ => Ok(()),
    }
}

struct Checker {
    path: String,
}

impl Checker {
    fn at(&self, step: impl fmt::Display) -> Checker {
        Checker {
            path: format!("{}{step}", self.path),
        }
    }

    fn float(&self, v: f64) -> Result<(), NonFinite> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(NonFinite(format!("non-finite:{v} at {}", self.path)))
        }
    }
}

/// A compound value's checker: counts its elements for their paths.
struct Compound {
    checker: Checker,
    index: usize,
}

impl Compound {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NonFinite> {
        let at = self.checker.at(format_args!("[{}]", self.index));
        self.index += 1;
        value.serialize(at)
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), NonFinite> {
        value.serialize(self.checker.at(format_args!(".{key}")))
    }
}

macro_rules! ok_scalars {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result<(), NonFinite> { Ok(()) })*
    };
}

impl ser::Serializer for Checker {
    type Ok = ();
    type Error = NonFinite;
    type SerializeSeq = Compound;
    type SerializeTuple = Compound;
    type SerializeTupleStruct = Compound;
    type SerializeTupleVariant = Compound;
    type SerializeMap = Compound;
    type SerializeStruct = Compound;
    type SerializeStructVariant = Compound;

    ok_scalars!(
        serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_char: char,
        serialize_str: &str, serialize_bytes: &[u8],
    );

    fn serialize_f32(self, v: f32) -> Result<(), NonFinite> {
        self.float(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), NonFinite> {
        self.float(v)
    }
    fn serialize_none(self) -> Result<(), NonFinite> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), NonFinite> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), NonFinite> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), NonFinite> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), NonFinite> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), NonFinite> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), NonFinite> {
        value.serialize(self.at(format_args!(".{variant}")))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound, NonFinite> {
        Ok(Compound {
            checker: self,
            index: 0,
        })
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound, NonFinite> {
        Ok(Compound {
            checker: self,
            index: 0,
        })
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound, NonFinite> {
        Ok(Compound {
            checker: self,
            index: 0,
        })
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound, NonFinite> {
        Ok(Compound {
            checker: self.at(format_args!(".{variant}")),
            index: 0,
        })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound, NonFinite> {
        Ok(Compound {
            checker: self,
            index: 0,
        })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound, NonFinite> {
        Ok(Compound {
            checker: self,
            index: 0,
        })
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound, NonFinite> {
        Ok(Compound {
            checker: self.at(format_args!(".{variant}")),
            index: 0,
        })
    }
}

/// The compound traits whose elements are counted (`[i]` in the path).
macro_rules! positional {
    ($($trait:ident::$method:ident),* $(,)?) => {$(
        impl ser::$trait for Compound {
            type Ok = ();
            type Error = NonFinite;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NonFinite> {
                self.element(value)
            }
            fn end(self) -> Result<(), NonFinite> {
                Ok(())
            }
        }
    )*};
}

positional!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

/// The compound traits whose fields are named (`.name` in the path).
macro_rules! named {
    ($($trait:ident),* $(,)?) => {$(
        impl ser::$trait for Compound {
            type Ok = ();
            type Error = NonFinite;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), NonFinite> {
                self.field(key, value)
            }
            fn end(self) -> Result<(), NonFinite> {
                Ok(())
            }
        }
    )*};
}

named!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound {
    type Ok = ();
    type Error = NonFinite;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), NonFinite> {
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NonFinite> {
        // Map keys are not tracked: the path names the entry by position.
        self.element(value)
    }
    fn end(self) -> Result<(), NonFinite> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::check;

    #[derive(serde::Serialize)]
    struct Scores {
        name: String,
        values: Vec<f64>,
    }

    #[test]
    fn finite_values_pass_and_a_nan_or_infinity_is_named_by_its_path() {
        assert_eq!(check(&1.5), Ok(()));
        assert_eq!(check(&vec!["a", "b"]), Ok(()));
        assert_eq!(check(&f64::NAN), Err("NaN at $".to_owned()));
        let s = Scores {
            name: "x".into(),
            values: vec![1.0, f64::INFINITY],
        };
        assert_eq!(check(&s), Err("inf at $.values[1]".to_owned()));
        let m = BTreeMap::from([("k", f32::NEG_INFINITY)]);
        assert_eq!(check(&m), Err("-inf at $[0]".to_owned()));
        assert_eq!(check(&Some(f64::NAN)), Err("NaN at $".to_owned()));
    }
}
