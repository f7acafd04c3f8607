//! Session keys: `agent:<agentId>:<name>`; a bare name means agent `main`.

/// A checked, canonical session key and the agent it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey {
    pub key: String,
    pub agent_id: String,
}

/// Canonicalises a client's session key (`main` becomes `agent:main:main`).
pub fn parse(raw: &str) -> Result<SessionKey, String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 256 || raw.chars().any(char::is_control) {
        return Err("sessionKey must be 1-256 printable characters".to_string());
    }
    if let Some(rest) = raw.strip_prefix("agent:") {
        let (agent, name) = rest
            .split_once(':')
            .ok_or_else(|| format!("sessionKey `{raw}`: expected agent:<agentId>:<name>"))?;
        if agent.is_empty() || name.is_empty() {
            return Err(format!(
                "sessionKey `{raw}`: expected agent:<agentId>:<name>"
            ));
        }
        return Ok(SessionKey {
            key: raw.to_string(),
            agent_id: agent.to_lowercase(),
        });
    }
    Ok(SessionKey {
        key: format!("agent:main:{raw}"),
        agent_id: "main".to_string(),
    })
}

/// Canonicalises a key sent with an explicit `agentId`: a bare name belongs
/// to that agent; a full key must already belong to it.
pub fn parse_for_agent(raw: &str, agent_id: &str) -> Result<SessionKey, String> {
    let trimmed = raw.trim();
    if trimmed.starts_with("agent:") {
        let key = parse(trimmed)?;
        if key.agent_id != agent_id {
            return Err(format!(
                "sessionKey `{}` belongs to agent `{}`, not agentId `{agent_id}`",
                key.key, key.agent_id
            ));
        }
        return Ok(key);
    }
    parse(&format!("agent:{agent_id}:{trimmed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_keys() {
        assert_eq!(parse("agent:dev:main").unwrap().agent_id, "dev");
        assert_eq!(parse("main").unwrap().key, "agent:main:main");
        assert!(parse("agent:dev").is_err());
        assert!(parse("").is_err());
        assert_eq!(
            parse_for_agent("work", "ops").unwrap().key,
            "agent:ops:work"
        );
        assert!(parse_for_agent("agent:main:x", "ops").is_err());
    }
}
