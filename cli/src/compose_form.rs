//! The design's `KEY=VALUE` form for destroy — `docker-compose run ci destroy=everything` — read
//! as the CLI's own commands: `everything` as `down` (the stack and everything it made, exactly),
//! `service` and `images` as `destroy service` and `destroy images`.

use std::ffi::OsString;

/// The tiers, with the command each names.
const TIERS: [(&str, &[&str]); 3] =
    [("everything", &["down"]), ("service", &["destroy", "service"]), ("images", &["destroy", "images"])];

/// `args` (the program name first) with a leading `destroy=<tier>` replaced by the command it
/// names, the rest kept; an unknown tier is refused naming the allowed ones.
pub fn rewrite(args: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let Some(tier) = args.get(1).and_then(|a| a.to_str()).and_then(|a| a.strip_prefix("destroy=")) else {
        return Ok(args);
    };
    let Some((_, command)) = TIERS.iter().find(|(name, _)| *name == tier) else {
        let allowed: Vec<String> = TIERS.iter().map(|(name, _)| format!("destroy={name}")).collect();
        return Err(format!(
            "destroy={tier} is not a tier: {} (everything is `sigship down`: the stack and all it made)",
            allowed.join(", ")
        ));
    };
    let mut rewritten = vec![args[0].clone()];
    rewritten.extend(command.iter().map(OsString::from));
    rewritten.extend(args[2..].iter().cloned());
    Ok(rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_design_s_destroy_tiers_are_the_cli_s_commands() {
        let rewrite = |args: &[&str]| rewrite(strings(args));
        assert_eq!(rewrite(&["sigship", "destroy=everything"]).unwrap(), strings(&["sigship", "down"]));
        assert_eq!(
            rewrite(&["sigship", "destroy=service", "--stack-name", "b"]).unwrap(),
            strings(&["sigship", "destroy", "service", "--stack-name", "b"])
        );
        assert_eq!(rewrite(&["sigship", "destroy=images"]).unwrap(), strings(&["sigship", "destroy", "images"]));
        assert_eq!(rewrite(&["sigship", "status"]).unwrap(), strings(&["sigship", "status"]), "others untouched");
        let refused = rewrite(&["sigship", "destroy=all"]).unwrap_err();
        assert!(refused.contains("destroy=everything, destroy=service, destroy=images"), "{refused}");
    }
}
