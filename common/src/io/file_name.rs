//! Names from metadata (a model's style names) made safe to put in a file name: the one
//! sanitiser that fauve-infer's outputs and fauve-train's samples share.

/// `s` with every character but letters, digits, `-` and `_` replaced by `_` (so no path
/// separator, dot or space survives); "stylized" for an empty name.
pub fn file_name_safe(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "stylized".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_names_are_made_file_safe() {
        assert_eq!(file_name_safe("starry night/v2"), "starry_night_v2");
        assert_eq!(file_name_safe("../../etc"), "______etc");
        assert_eq!(file_name_safe(""), "stylized");
    }
}
