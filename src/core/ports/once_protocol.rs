//! The wire protocol of the `Once` Durable Object, shared by its two sides: the Worker's
//! client (`src/edge/ports.rs`) builds an [`OnceOp`] and reads the reply type of that op; the
//! object (`src/edge/once.rs`) reads the op and answers that type. The JSON shapes are the
//! ones both sides have always spoken, so Workers of the previous version keep working with
//! the object during a rollout.

use serde::{Deserialize, Serialize};

use crate::core::wire::needed;

use super::{Family, Marker, NewFamily, NewItem, OnceKey, Rotation, Taken};

/// One operation on the object that owns its key(s).
///
/// Written by serde's derive (`{"op": "claim", "key": …, "owner": …}`); read through
/// [`OpWire`], the same shape as one flat record ([`crate::core::wire`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", try_from = "OpWire")]
pub enum OnceOp {
    Put {
        key: OnceKey,
        value: String,
        ttl: u64,
    },
    Take {
        key: OnceKey,
    },
    Claim {
        key: OnceKey,
        owner: String,
    },
    Unclaim {
        key: OnceKey,
        owner: String,
    },
    OnceThenStore {
        marker: Option<MarkerSpec>,
        item: Option<ItemSpec>,
        family: Option<FamilySpec>,
    },
    /// `grace` and `max_reuse` ([`super::RotationGrace`]) are absent when zero: the strict
    /// rotation keeps the shape it always had, and an object that predates them ignores them
    /// and stays strict.
    FamilyRotate {
        key: OnceKey,
        presented: String,
        next: String,
        #[serde(default, skip_serializing_if = "is_zero")]
        grace: u64,
        #[serde(default, skip_serializing_if = "is_zero")]
        max_reuse: u32,
    },
    FamilyRevoke {
        key: OnceKey,
    },
    FamilyGet {
        key: OnceKey,
    },
    RecordGet {
        key: OnceKey,
    },
    RecordSwap {
        key: OnceKey,
        expected: Option<String>,
        value: String,
    },
    CountUse {
        key: OnceKey,
        max: u32,
        window: u64,
    },
    Mark {
        key: OnceKey,
        ttl: u64,
    },
    Marked {
        key: OnceKey,
    },
}

/// The name of an [`OnceOp`] on the wire.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum OpName {
    Put,
    Take,
    Claim,
    Unclaim,
    OnceThenStore,
    FamilyRotate,
    FamilyRevoke,
    FamilyGet,
    RecordGet,
    RecordSwap,
    CountUse,
    Mark,
    Marked,
}

/// Every field any [`OnceOp`] has, each of one type whatever the op: what the derive would
/// accept (a field the op does not have is ignored, one it needs and lacks is an error, an
/// `Option` field may be absent) is checked by [`OnceOp::try_from`].
#[derive(Deserialize)]
struct OpWire {
    op: OpName,
    key: Option<OnceKey>,
    value: Option<String>,
    ttl: Option<u64>,
    owner: Option<String>,
    marker: Option<MarkerSpec>,
    item: Option<ItemSpec>,
    family: Option<FamilySpec>,
    presented: Option<String>,
    next: Option<String>,
    grace: Option<u64>,
    max_reuse: Option<u32>,
    expected: Option<String>,
    max: Option<u32>,
    window: Option<u64>,
}

impl TryFrom<OpWire> for OnceOp {
    type Error = String;

    fn try_from(w: OpWire) -> Result<Self, String> {
        let key = needed(w.key, "key");
        Ok(match w.op {
            OpName::Put => OnceOp::Put { key: key?, value: needed(w.value, "value")?, ttl: needed(w.ttl, "ttl")? },
            OpName::Take => OnceOp::Take { key: key? },
            OpName::Claim => OnceOp::Claim { key: key?, owner: needed(w.owner, "owner")? },
            OpName::Unclaim => OnceOp::Unclaim { key: key?, owner: needed(w.owner, "owner")? },
            OpName::OnceThenStore => OnceOp::OnceThenStore { marker: w.marker, item: w.item, family: w.family },
            OpName::FamilyRotate => OnceOp::FamilyRotate {
                key: key?,
                presented: needed(w.presented, "presented")?,
                next: needed(w.next, "next")?,
                grace: w.grace.unwrap_or(0),
                max_reuse: w.max_reuse.unwrap_or(0),
            },
            OpName::FamilyRevoke => OnceOp::FamilyRevoke { key: key? },
            OpName::FamilyGet => OnceOp::FamilyGet { key: key? },
            OpName::RecordGet => OnceOp::RecordGet { key: key? },
            OpName::RecordSwap => {
                OnceOp::RecordSwap { key: key?, expected: w.expected, value: needed(w.value, "value")? }
            }
            OpName::CountUse => {
                OnceOp::CountUse { key: key?, max: needed(w.max, "max")?, window: needed(w.window, "window")? }
            }
            OpName::Mark => OnceOp::Mark { key: key?, ttl: needed(w.ttl, "ttl")? },
            OpName::Marked => OnceOp::Marked { key: key? },
        })
    }
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerSpec {
    pub key: OnceKey,
    pub ttl: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemSpec {
    pub key: OnceKey,
    pub value: String,
    pub ttl: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilySpec {
    pub key: OnceKey,
    pub value: String,
    pub current: String,
    pub ttl: u64,
}

impl From<Marker<'_>> for MarkerSpec {
    fn from(m: Marker<'_>) -> Self {
        MarkerSpec { key: m.key.clone(), ttl: m.ttl_seconds }
    }
}

impl From<NewItem<'_>> for ItemSpec {
    fn from(i: NewItem<'_>) -> Self {
        ItemSpec { key: i.key.clone(), value: i.value.into(), ttl: i.ttl_seconds }
    }
}

impl From<NewFamily<'_>> for FamilySpec {
    fn from(f: NewFamily<'_>) -> Self {
        FamilySpec { key: f.key.clone(), value: f.value.into(), current: f.current.into(), ttl: f.ttl_seconds }
    }
}

/// The answer to `put`, `unclaim` and `family_revoke`: `{}`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Done {}

/// `once_then_store`: whether the marker was free and everything was stored.
#[derive(Debug, Serialize, Deserialize)]
pub struct Stored {
    pub stored: bool,
}

/// `claim`: the owner that holds the key already, if another one does.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Claimed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TakeState {
    Fresh,
    Replayed,
    Missing,
}

/// `take`.
#[derive(Debug, Serialize, Deserialize)]
pub struct TakeReply {
    pub state: TakeState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl From<TakeReply> for Taken {
    fn from(r: TakeReply) -> Self {
        match (r.state, r.value) {
            (TakeState::Fresh, Some(value)) => Taken::Fresh(value),
            (TakeState::Replayed, Some(value)) => Taken::Replayed(value),
            _ => Taken::Missing,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotateState {
    Rotated,
    /// Only answered to an op that carried a grace (a Worker that knows it).
    Repeated,
    Reused,
    Refused,
    Missing,
}

/// `family_rotate`.
#[derive(Debug, Serialize, Deserialize)]
pub struct RotateReply {
    pub state: RotateState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl From<RotateReply> for Rotation {
    fn from(r: RotateReply) -> Self {
        match (r.state, r.value) {
            (RotateState::Rotated, Some(value)) => Rotation::Rotated(value),
            (RotateState::Repeated, Some(value)) => Rotation::Repeated(value),
            (RotateState::Reused, Some(value)) => Rotation::Reused(value),
            (RotateState::Refused, _) => Rotation::Refused,
            _ => Rotation::Missing,
        }
    }
}

/// `family_get`: `{}` when there is no such family.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FamilyReply {
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub family: Option<FamilyWire>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FamilyWire {
    pub value: String,
    pub current: String,
    pub revoked: bool,
}

impl From<FamilyReply> for Option<Family> {
    fn from(r: FamilyReply) -> Self {
        r.family.map(|f| Family { value: f.value, current: f.current, revoked: f.revoked })
    }
}

/// `record_get`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RecordReply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `record_swap`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Swapped {
    pub swapped: bool,
}

/// `count_use`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Counted {
    pub counted: bool,
}

/// `marked`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Marked {
    pub marked: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The shapes both sides have always spoken (a Worker of the previous version talks to
    /// the object during a rollout).
    #[test]
    fn the_wire_shapes_stay_what_they_were() {
        let op = OnceOp::Claim { key: OnceKey::alone("k".into()), owner: "o".into() };
        assert_eq!(serde_json::to_value(&op).unwrap(), json!({"op": "claim", "key": "k", "owner": "o"}));
        let marker = OnceKey::in_object("g", "state:s");
        let item = OnceKey::in_object("g", "code:c");
        let family = OnceKey::in_object("g", "rt");
        let op = OnceOp::OnceThenStore {
            marker: Some(Marker { key: &marker, ttl_seconds: 1200 }.into()),
            item: Some(NewItem { key: &item, value: "v", ttl_seconds: 60 }.into()),
            family: Some(NewFamily { key: &family, value: "f", current: "c", ttl_seconds: 600 }.into()),
        };
        let wire = json!({
            "op": "once_then_store",
            "marker": {"key": "g|state:s", "ttl": 1200},
            "item": {"key": "g|code:c", "value": "v", "ttl": 60},
            "family": {"key": "g|rt", "value": "f", "current": "c", "ttl": 600},
        });
        assert_eq!(serde_json::to_value(&op).unwrap(), wire);
        assert_eq!(serde_json::from_value::<OnceOp>(wire).unwrap(), op);
        assert_eq!(serde_json::to_value(Done {}).unwrap(), json!({}));
        assert_eq!(serde_json::to_value(Claimed::default()).unwrap(), json!({}));
        let take = TakeReply { state: TakeState::Replayed, value: Some("v".into()) };
        assert_eq!(serde_json::to_value(&take).unwrap(), json!({"state": "replayed", "value": "v"}));
        assert_eq!(serde_json::to_value(FamilyReply::default()).unwrap(), json!({}));
        let family =
            FamilyReply { family: Some(FamilyWire { value: "v".into(), current: "c".into(), revoked: false }) };
        assert_eq!(serde_json::to_value(&family).unwrap(), json!({"value": "v", "current": "c", "revoked": false}));
        let back: FamilyReply = serde_json::from_value(json!({})).unwrap();
        assert!(Option::<Family>::from(back).is_none());
    }

    fn every_op() -> Vec<OnceOp> {
        let key = OnceKey::in_object("r", "n");
        let spec = |k: &str| MarkerSpec { key: OnceKey::alone(k.into()), ttl: 9 };
        let item = ItemSpec { key: OnceKey::in_object("r", "i"), value: "v".into(), ttl: 3 };
        let family = FamilySpec { key: OnceKey::in_object("r", "f"), value: "v".into(), current: "c".into(), ttl: 4 };
        vec![
            OnceOp::Put { key: key.clone(), value: "v".into(), ttl: 60 },
            OnceOp::Take { key: key.clone() },
            OnceOp::Claim { key: key.clone(), owner: "o".into() },
            OnceOp::Unclaim { key: key.clone(), owner: "o".into() },
            OnceOp::OnceThenStore { marker: Some(spec("m")), item: Some(item), family: Some(family) },
            OnceOp::OnceThenStore { marker: None, item: None, family: None },
            OnceOp::FamilyRotate { key: key.clone(), presented: "p".into(), next: "n".into(), grace: 0, max_reuse: 0 },
            OnceOp::FamilyRotate { key: key.clone(), presented: "p".into(), next: "n".into(), grace: 7, max_reuse: 1 },
            OnceOp::FamilyRevoke { key: key.clone() },
            OnceOp::FamilyGet { key: key.clone() },
            OnceOp::RecordGet { key: key.clone() },
            OnceOp::RecordSwap { key: key.clone(), expected: Some("e".into()), value: "v".into() },
            OnceOp::RecordSwap { key: key.clone(), expected: None, value: "v".into() },
            OnceOp::CountUse { key: key.clone(), max: 5, window: 3600 },
            OnceOp::Mark { key: key.clone(), ttl: 30 },
            OnceOp::Marked { key },
        ]
    }

    /// The object reads every op as the Worker writes it (the writer is serde's derive, the
    /// reader the flat [`OpWire`]), and refuses an op without a field it needs.
    #[test]
    fn every_op_is_read_as_it_was_written_and_refused_without_what_it_needs() {
        crate::core::wire::check_flat_reader("op", &every_op(), |op, field| {
            matches!(op, OnceOp::OnceThenStore { .. })
                || field == "expected"
                || (matches!(op, OnceOp::FamilyRotate { .. }) && (field == "grace" || field == "max_reuse"))
        });
    }

    /// A field of the wrong type, or a spec inside an op lacking one of its own, is refused.
    #[test]
    fn an_op_of_the_wrong_shape_is_refused() {
        for bad in [
            json!({"op": "take", "key": 5}),
            json!({"op": "put", "key": "k", "value": "v", "ttl": "60"}),
            json!({"op": "once_then_store", "marker": {"key": "k"}}),
        ] {
            assert!(serde_json::from_value::<OnceOp>(bad.clone()).is_err(), "{bad}");
        }
    }

    /// A strict rotation is sent as it always was; a grace travels in fields an object of the
    /// previous version ignores (it then rotates strictly), and a Worker of the previous
    /// version, which sends none, is answered strictly by this one.
    #[test]
    fn rotation_grace_is_optional_on_the_wire() {
        let key = OnceKey::in_object("g", "rt");
        let rotate = |grace, max_reuse| OnceOp::FamilyRotate {
            key: key.clone(),
            presented: "p".into(),
            next: "n".into(),
            grace,
            max_reuse,
        };
        let strict = json!({"op": "family_rotate", "key": "g|rt", "presented": "p", "next": "n"});
        assert_eq!(serde_json::to_value(rotate(0, 0)).unwrap(), strict);
        assert_eq!(serde_json::from_value::<OnceOp>(strict).unwrap(), rotate(0, 0));
        let graced =
            json!({"op": "family_rotate", "key": "g|rt", "presented": "p", "next": "n", "grace": 5, "max_reuse": 2});
        assert_eq!(serde_json::to_value(rotate(5, 2)).unwrap(), graced);
        assert_eq!(serde_json::from_value::<OnceOp>(graced).unwrap(), rotate(5, 2));
        let repeated = RotateReply { state: RotateState::Repeated, value: Some("v".into()) };
        assert_eq!(serde_json::to_value(&repeated).unwrap(), json!({"state": "repeated", "value": "v"}));
        assert_eq!(Rotation::from(repeated), Rotation::Repeated("v".into()));
    }
}
