//! A query string taken apart once: duplicates and unknown parameters are refused, so that
//! a typo (`acton=created`) is a 400 rather than a silently unfiltered audit trail.

use std::collections::BTreeMap;
use std::fmt;

/// A bad parameter: which one, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The parameter's name as the HTTP API spells it.
    pub param: String,
    /// What is wrong with it, without the name.
    pub problem: String,
}

impl ParamError {
    pub fn new(param: &str, problem: impl fmt::Display) -> Self {
        Self {
            param: param.to_owned(),
            problem: problem.to_string(),
        }
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid parameter `{}`: {}", self.param, self.problem)
    }
}

impl std::error::Error for ParamError {}

/// Parameters added by Pusher request signing; authentication has used them already.
const SIGNING_PARAMS: &[&str] = &[
    "auth_key",
    "auth_timestamp",
    "auth_version",
    "auth_signature",
    "body_md5",
];

/// The parameters of one request, consumed by the parts that understand them.
#[derive(Debug, Default, Clone)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Decodes a raw query string (`a=1&b=2`).
    pub fn from_query(query: Option<&str>) -> Result<Self, ParamError> {
        let pairs = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()));
        Self::from_pairs(pairs)
    }

    /// Builds from name/value pairs (the CLI's flags).
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ParamError> {
        let mut values = BTreeMap::new();
        for (name, value) in pairs {
            if SIGNING_PARAMS.contains(&name.as_str()) {
                continue;
            }
            if values.insert(name.clone(), value).is_some() {
                return Err(ParamError::new(&name, "given more than once"));
            }
        }
        Ok(Self { values })
    }

    /// Takes a parameter; an empty value counts as absent, as empty form fields do.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.values.remove(name).filter(|v| !v.trim().is_empty())
    }

    /// Takes a parameter that may also be spelled as one of `aliases` (the names the
    /// hand-written audit APIs used), refusing two spellings at once.
    pub fn take_any(&mut self, name: &str, aliases: &[&str]) -> Result<Option<String>, ParamError> {
        let mut found: Option<(&str, String)> = self.take(name).map(|v| (name, v));
        for alias in aliases {
            if let Some(v) = self.take(alias) {
                if let Some((first, _)) = &found {
                    return Err(ParamError::new(
                        alias,
                        format_args!("conflicts with `{first}`; give only one"),
                    ));
                }
                found = Some((alias, v));
            }
        }
        Ok(found.map(|(_, v)| v))
    }

    /// Parses an integer parameter within `min..=max`.
    pub fn take_int(&mut self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ParamError> {
        let Some(v) = self.take(name) else {
            return Ok(None);
        };
        match v.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ParamError::new(
                name,
                format_args!("must be an integer from {min} to {max}, got {v:?}"),
            )),
        }
    }

    /// Refuses whatever no part of the request understood.
    pub fn finish(self) -> Result<(), ParamError> {
        match self.values.into_keys().next() {
            None => Ok(()),
            Some(name) => Err(ParamError::new(&name, "unknown parameter")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_duplicates_and_unknown_names_but_not_signing_params() {
        let err = Params::from_query(Some("a=1&a=2")).unwrap_err();
        assert_eq!(err.param, "a");
        let p = Params::from_query(Some("acton=x&auth_key=k&auth_signature=s&body_md5=m")).unwrap();
        assert_eq!(p.finish().unwrap_err().param, "acton");
    }

    #[test]
    fn aliases_conflict_and_empty_values_are_absent() {
        let mut p = Params::from_query(Some("model=a&model_name=b&user=")).unwrap();
        assert_eq!(
            p.take_any("model", &["model_name"]).unwrap_err().param,
            "model_name"
        );
        assert_eq!(p.take("user"), None);
        let mut p = Params::from_query(Some("model_name=b")).unwrap();
        assert_eq!(
            p.take_any("model", &["model_name"]).unwrap().as_deref(),
            Some("b")
        );
    }

    #[test]
    fn integers_are_range_checked() {
        let mut p = Params::from_query(Some("limit=0")).unwrap();
        let e = p.take_int("limit", 1, 1000).unwrap_err();
        assert!(e.to_string().contains("`limit`"), "{e}");
    }
}
