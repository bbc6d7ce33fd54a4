//! Which releases run without being asked: the watch starts only releases newer than the newest
//! one there was when the stack came up and the newest one deployed; an operator's run of an
//! older release pins it until `sigship follow`. The marks live in the stack's three SSM
//! parameters (see `pipeline::aws::WatchParameters`); this is the CLI's side of them.

use std::cmp::Ordering;

use pipeline::aws::WatchParameters;
use pipeline::release;
use pipeline::trigger::watch::{WatchMarks, WatchState, NO_RELEASE_YET};

use crate::error::{Error, Result};

/// The stack's marks, and the newest release known to it: its baseline, or a newer one deployed.
pub async fn state(parameters: &WatchParameters) -> Result<(WatchMarks, Option<String>)> {
    let marks = parameters.read().await.map_err(Error::Pipeline)?;
    let baseline = marks.after.iter().filter(|a| *a != NO_RELEASE_YET);
    let newest = baseline.chain(&marks.ran).max_by(|a, b| release::compare(a, b)).cloned();
    Ok((marks, newest))
}

/// Before a run of `tag`: refused at once when it is older than the newest release deployed
/// and the run does not allow a downgrade — nothing is queued or built for it.
pub async fn check_before_run(parameters: &WatchParameters, tag: &str, allow_downgrade: bool) -> Result<()> {
    let (marks, _) = state(parameters).await?;
    release::check_newer_than_deployed(tag, marks.ran.as_deref(), allow_downgrade)
        .map_err(|refused| Error::Usage(format!("{refused}")))
}

/// What a run of `tag` does to the pin once the release deployed: pins an older release than the
/// newest known, lifts a pin for any other.
pub async fn pin_after_run(parameters: &WatchParameters, tag: &str) -> Result<Option<String>> {
    let (marks, newest) = state(parameters).await?;
    let older = newest.as_deref().is_some_and(|newest| release::compare(tag, newest) == Ordering::Less);
    if older {
        parameters.set(&parameters.pin, Some(tag)).await.map_err(Error::Pipeline)?;
        return Ok(Some(format!(
            "pinned {tag} (older than {}): the watch starts no newer release until `sigship follow`",
            newest.unwrap_or_default()
        )));
    }
    match marks.pin {
        Some(pinned) => {
            parameters.set(&parameters.pin, None).await.map_err(Error::Pipeline)?;
            Ok(Some(format!("pin on {pinned} lifted: {tag} is the newest release known; the watch follows new ones")))
        }
        None => Ok(None),
    }
}

/// `sigship follow`: lifts the pin; says what the watch does next.
pub async fn follow(parameters: &WatchParameters) -> Result<String> {
    let (marks, newest) = state(parameters).await?;
    if marks.pin.is_some() {
        parameters.set(&parameters.pin, None).await.map_err(Error::Pipeline)?;
    }
    let what = describe(&WatchMarks { pin: None, ..marks.clone() }, newest.as_deref());
    Ok(match marks.pin {
        Some(pinned) => format!("pin on {pinned} lifted; {what}"),
        None => format!("no pin was set; {what}"),
    })
}

/// One line on what the watch will do.
pub fn describe(marks: &WatchMarks, newest_known: Option<&str>) -> String {
    match (&marks.pin, newest_known) {
        (Some(pinned), _) => format!("watch: pinned at {pinned}; starts nothing until `sigship follow`"),
        (None, Some(newest)) => format!("watch: starts signed releases newer than {newest} as they appear"),
        (None, None) if marks.after.is_some() => "watch: starts signed releases as they appear".into(),
        (None, None) => "watch: starts nothing until a release has run (no baseline was recorded at up)".into(),
    }
}

/// `sigship base-images [--move]`: what builds pull the base images by; with `move_them`, the
/// record is emptied (the next build pulls by tag and records what it pulled).
pub async fn base_images(parameter: &pipeline::aws::BaseImagesParameter, move_them: bool) -> Result<String> {
    use pipeline::build::BaseImageRecord;
    let recorded = parameter.recorded().await.map_err(Error::Pipeline)?;
    let list = |entries: &[String]| entries.iter().map(|e| format!("\n  {e}")).collect::<String>();
    if recorded.is_empty() {
        return Ok(format!(
            "base images ({}): none recorded yet; the next build records what it pulls",
            parameter.name
        ));
    }
    if !move_them {
        return Ok(format!("base images ({}): builds pull them by these digests:{}", parameter.name, list(&recorded)));
    }
    parameter.set(&[]).await.map_err(Error::Pipeline)?;
    Ok(format!(
        "base images ({}): moved — forgot{}\nthe next build pulls them by tag and records the digests it pulled",
        parameter.name,
        list(&recorded)
    ))
}
