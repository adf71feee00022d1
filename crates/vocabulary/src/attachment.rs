//! References to documents and pictures already uploaded elsewhere: a
//! report's photos, a notice's attachments. The platform stores the
//! reference only, so it must be one a reader can follow.

/// The longest reference, in characters.
pub const MAX_ATTACHMENT_CHARS: usize = 1024;

/// The schemes a reference may use: the web and the object stores
/// government clouds offer.
const SCHEMES: [&str; 6] = [
    "https://", "s3://", "oss://", "obs://", "cos://", "minio://",
];

/// A reference, trimmed: an `https://` URL or an object-store URI without
/// spaces, 1 to [`MAX_ATTACHMENT_CHARS`] characters. The error is a field
/// violation's description and never repeats the reference.
pub fn attachment_reference(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_ATTACHMENT_CHARS {
        return Err(format!("must be 1-{MAX_ATTACHMENT_CHARS} characters"));
    }
    let has_scheme = SCHEMES
        .iter()
        .any(|scheme| trimmed.starts_with(scheme) && trimmed.len() > scheme.len());
    if !has_scheme
        || trimmed
            .chars()
            .any(|character| character.is_whitespace() || character.is_control())
    {
        return Err("must be an https:// URL or an object-store URI (s3://, oss://, obs://, cos://, minio://) without spaces".into());
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_and_object_store_references_are_taken_trimmed() {
        assert_eq!(
            attachment_reference(" https://files.example.cn/a.pdf ").unwrap(),
            "https://files.example.cn/a.pdf"
        );
        assert!(attachment_reference("oss://bucket/flood-map.png").is_ok());
    }

    #[test]
    fn plain_http_spaces_and_bare_schemes_are_refused() {
        for text in [
            "http://example.cn/a.pdf",
            "https://a b",
            "s3://",
            "",
            "a.pdf",
        ] {
            assert!(attachment_reference(text).is_err(), "{text:?}");
        }
    }
}
