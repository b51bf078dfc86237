//! The checks of refresh-token families (RFC 9700 §4.14.2): rotation, reuse detection, and the
//! grace that lets concurrent refreshes share a successor.

use super::{expect, Outcome, TimeTravel, Trial};
use crate::core::ports::{Family, Rotation, RotationGrace, ROTATED_OUT_KEPT};

pub(super) async fn family_rotates_and_is_revoked_on_reuse(t: &Trial<'_>) -> Outcome {
    let key = t.key("rt");
    t.start_family(&key, "s1", 600).await?;
    expect("rotation of s1", t.once.family_rotate(&key, "s1", "s2").await?, Rotation::Rotated("grant".into()))?;
    let want = Family { value: "grant".into(), current: "s2".into(), revoked: false };
    expect("the family", t.once.family_get(&key).await?, Some(want))?;
    expect("rotation of s2", t.once.family_rotate(&key, "s2", "s3").await?, Rotation::Rotated("grant".into()))?;
    expect("s1 again", t.once.family_rotate(&key, "s1", "x").await?, Rotation::Reused("grant".into()))?;
    let revoked = t.once.family_get(&key).await?.map(|f| f.revoked);
    expect("revoked after the reuse", revoked, Some(true))?;
    expect("the current s3 after the reuse", t.once.family_rotate(&key, "s3", "s4").await?, Rotation::Refused)
}

pub(super) async fn family_refuses_a_secret_it_never_had(t: &Trial<'_>) -> Outcome {
    let key = t.key("rt");
    t.start_family(&key, "s1", 600).await?;
    expect("a foreign secret", t.once.family_rotate(&key, "forged", "x").await?, Rotation::Refused)?;
    let want = Family { value: "grant".into(), current: "s1".into(), revoked: false };
    expect("the family, unchanged", t.once.family_get(&key).await?, Some(want))?;
    expect("rotation of s1", t.once.family_rotate(&key, "s1", "s2").await?, Rotation::Rotated("grant".into()))
}

pub(super) async fn family_revoke_stops_rotation(t: &Trial<'_>) -> Outcome {
    let key = t.key("rt");
    t.start_family(&key, "s1", 600).await?;
    t.once.family_revoke(&key).await?;
    expect("rotation after revocation", t.once.family_rotate(&key, "s1", "s2").await?, Rotation::Refused)?;
    let want = Family { value: "grant".into(), current: "s1".into(), revoked: true };
    expect("the family", t.once.family_get(&key).await?, Some(want))
}

pub(super) async fn family_that_does_not_exist_is_missing(t: &Trial<'_>) -> Outcome {
    let key = t.key("rt");
    expect("rotation", t.once.family_rotate(&key, "s1", "s2").await?, Rotation::Missing)?;
    t.once.family_revoke(&key).await?;
    expect("the family after a revocation", t.once.family_get(&key).await?, None)
}

pub(super) async fn family_forgets_the_oldest_rotated_out_secrets(t: &Trial<'_>) -> Outcome {
    let key = t.key("rt");
    t.start_family(&key, "s0", 600).await?;
    // s0 … s{KEPT} are rotated out; the family remembers the last KEPT of them.
    for i in 0..=ROTATED_OUT_KEPT {
        let rotated = t.once.family_rotate(&key, &format!("s{i}"), &format!("s{}", i + 1)).await?;
        expect(&format!("rotation of s{i}"), rotated, Rotation::Rotated("grant".into()))?;
    }
    expect("the forgotten s0", t.once.family_rotate(&key, "s0", "x").await?, Rotation::Refused)?;
    let revoked = t.once.family_get(&key).await?.map(|f| f.revoked);
    expect("revoked by a forgotten secret", revoked, Some(false))?;
    expect("the remembered s1", t.once.family_rotate(&key, "s1", "x").await?, Rotation::Reused("grant".into()))
}

fn grace(seconds: u64, max_reuse: u32) -> RotationGrace {
    RotationGrace { seconds, max_reuse }
}

fn rotated() -> Rotation {
    Rotation::Rotated("grant".into())
}

fn repeated() -> Rotation {
    Rotation::Repeated("grant".into())
}

fn reused() -> Rotation {
    Rotation::Reused("grant".into())
}

/// Concurrent refreshes: the secret rotated out last, presented again with the same successor
/// within the grace, is answered as a repeat and changes nothing.
pub(super) async fn family_repeats_the_last_rotation_within_grace(t: &Trial<'_>) -> Outcome {
    let (key, g) = (t.key("rt"), grace(60, 0));
    t.start_family(&key, "s1", 600).await?;
    expect("rotation of s1", t.once.family_rotate_within(&key, "s1", "s2", g).await?, rotated())?;
    for i in 1..=2 {
        expect(&format!("s1 again ({i})"), t.once.family_rotate_within(&key, "s1", "s2", g).await?, repeated())?;
    }
    let want = Family { value: "grant".into(), current: "s2".into(), revoked: false };
    expect("the family after the repeats", t.once.family_get(&key).await?, Some(want))?;
    expect("rotation of s2", t.once.family_rotate_within(&key, "s2", "s3", g).await?, rotated())
}

/// A repeat only for the secret rotated out last, and only while the successor it is sent
/// with is the current secret; otherwise it is reuse.
pub(super) async fn family_repeat_needs_the_current_successor(t: &Trial<'_>) -> Outcome {
    let (key, g) = (t.key("rt"), grace(60, 5));
    t.start_family(&key, "s1", 600).await?;
    expect("rotation of s1", t.once.family_rotate_within(&key, "s1", "s2", g).await?, rotated())?;
    expect("rotation of s2", t.once.family_rotate_within(&key, "s2", "s3", g).await?, rotated())?;
    expect("s1 once s2 was used", t.once.family_rotate_within(&key, "s1", "s2", g).await?, reused())?;
    let other = t.key("rt2");
    t.start_family(&other, "s1", 600).await?;
    expect("rotation of s1", t.once.family_rotate_within(&other, "s1", "s2", g).await?, rotated())?;
    expect("s1 with another successor", t.once.family_rotate_within(&other, "s1", "x", g).await?, reused())?;
    let revoked = t.once.family_get(&other).await?.map(|f| f.revoked);
    expect("the family revoked", revoked, Some(true))
}

pub(super) async fn family_without_grace_is_strict(t: &Trial<'_>) -> Outcome {
    let key = t.key("rt");
    t.start_family(&key, "s1", 600).await?;
    expect("rotation of s1", t.once.family_rotate(&key, "s1", "s2").await?, rotated())?;
    expect("s1 again, strict", t.once.family_rotate(&key, "s1", "s2").await?, reused())
}

/// Keycloak's `refreshTokenMaxReuse`: with no grace window, the last rotated-out secret
/// is repeated `max_reuse` times, then it is reuse; a rotation starts a new count.
pub(super) async fn family_repeats_up_to_max_reuse(t: &Trial<'_>) -> Outcome {
    let (key, g) = (t.key("rt"), grace(0, 2));
    t.start_family(&key, "s1", 600).await?;
    expect("rotation of s1", t.once.family_rotate_within(&key, "s1", "s2", g).await?, rotated())?;
    expect("s1 again", t.once.family_rotate_within(&key, "s1", "s2", g).await?, repeated())?;
    expect("rotation of s2", t.once.family_rotate_within(&key, "s2", "s3", g).await?, rotated())?;
    for i in 1..=2 {
        expect(&format!("s2 again ({i} of 2)"), t.once.family_rotate_within(&key, "s2", "s3", g).await?, repeated())?;
    }
    expect("s2 a third time", t.once.family_rotate_within(&key, "s2", "s3", g).await?, reused())
}

pub(super) async fn families_expire(t: &Trial<'_>, clock: &dyn TimeTravel) -> Outcome {
    let key = t.key("rt");
    t.start_family(&key, "s1", 100).await?;
    clock.pass(99);
    expect(
        "rotation a second before expiry",
        t.once.family_rotate(&key, "s1", "s2").await?,
        Rotation::Rotated("grant".into()),
    )?;
    clock.pass(1);
    expect("rotation at expiry", t.once.family_rotate(&key, "s2", "s3").await?, Rotation::Missing)?;
    expect("the family at expiry", t.once.family_get(&key).await?, None)
}

pub(super) async fn family_grace_window_closes(t: &Trial<'_>, clock: &dyn TimeTravel) -> Outcome {
    let (key, g) = (t.key("rt"), grace(10, 0));
    t.start_family(&key, "s1", 600).await?;
    expect("rotation of s1", t.once.family_rotate_within(&key, "s1", "s2", g).await?, rotated())?;
    clock.pass(9);
    expect(
        "s1 a second before the window closes",
        t.once.family_rotate_within(&key, "s1", "s2", g).await?,
        repeated(),
    )?;
    clock.pass(1);
    expect("s1 when it closes", t.once.family_rotate_within(&key, "s1", "s2", g).await?, reused())
}
