use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid identifier; the message names the rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidId {
    pub kind: &'static str,
    pub rule: &'static str,
}

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: must match {}", self.kind, self.rule)
    }
}

impl std::error::Error for InvalidId {}

/// The caller's name for an agent: `[A-Za-z0-9._-]{1,128}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgentId(String);

/// A trigger's name (DESIGN §10): the same rule as an agent's, it is the last segment of `/hooks/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TriggerId(String);

/// A session's identifier: `[A-Za-z0-9][A-Za-z0-9_-]{0,63}`. It is also used as a directory name, which is
/// why the rule admits no dot and no slash.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

impl AgentId {
    pub const RULE: &'static str = "[A-Za-z0-9._-]{1,128}";

    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidId> {
        let value = value.into();
        let ok = (1..=128).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(value))
        } else {
            Err(InvalidId {
                kind: "agentId",
                rule: Self::RULE,
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TriggerId {
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidId> {
        let value = value.into();
        match AgentId::parse(value) {
            Ok(AgentId(value)) => Ok(Self(value)),
            Err(_) => Err(InvalidId {
                kind: "triggerId",
                rule: AgentId::RULE,
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl SessionId {
    pub const RULE: &'static str = "[A-Za-z0-9][A-Za-z0-9_-]{0,63}";

    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidId> {
        let value = value.into();
        let bytes = value.as_bytes();
        let ok = (1..=64).contains(&bytes.len())
            && bytes[0].is_ascii_alphanumeric()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if ok {
            Ok(Self(value))
        } else {
            Err(InvalidId {
                kind: "sessionId",
                rule: Self::RULE,
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(AgentId);
string_newtype!(SessionId);
string_newtype!(TriggerId);
