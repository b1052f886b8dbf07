//! Which librdkafka properties hold secrets (passwords, private keys, client secrets), so they
//! are never written to a log, an error or `/metrics`, and can be warned about when given on
//! the command line where `ps` shows them.

/// Whether librdkafka property `key` holds a secret: any `*password*` or `*secret*` property
/// (`sasl.password`, `ssl.key.password`, `ssl.keystore.password`,
/// `sasl.oauthbearer.client.secret`), a private key given inline (`ssl.key.pem`), and the
/// unsecured OAUTHBEARER configuration, which may carry a token.
pub fn is_secret_property(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    key.contains("password")
        || key.contains("secret")
        || key == "ssl.key.pem"
        || key == "sasl.oauthbearer.config"
}

/// `value`, or a fixed mask when `key` holds a secret: what may be printed of a property.
pub fn printable_value<'a>(key: &str, value: &'a str) -> &'a str {
    if is_secret_property(key) {
        "***"
    } else {
        value
    }
}

/// Properties as they may be printed (`Debug`, logs): each secret's value masked.
pub fn printable_properties(properties: &[(String, String)]) -> Vec<(&str, &str)> {
    properties
        .iter()
        .map(|(k, v)| (k.as_str(), printable_value(k, v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_properties_are_known_and_others_are_not() {
        let cases = [
            ("sasl.password", true),
            ("SASL.PASSWORD", true),
            ("ssl.key.password", true),
            ("ssl.keystore.password", true),
            ("sasl.oauthbearer.client.secret", true),
            ("ssl.key.pem", true),
            ("sasl.oauthbearer.config", true),
            ("sasl.username", false),
            ("security.protocol", false),
            ("ssl.ca.location", false),
            ("ssl.certificate.pem", false),
            ("ssl.key.location", false),
        ];
        for (key, secret) in cases {
            assert_eq!(is_secret_property(key), secret, "{key}");
            assert_eq!(printable_value(key, "v") == "***", secret, "{key}");
        }
    }
}
