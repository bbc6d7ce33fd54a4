pub fn run() -> Result<(), String> { Err("bench: not yet".into()) }
