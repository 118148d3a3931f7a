//! The S3 wire format the downloader needs: path-style URLs, and the XML of ListObjects (V2
//! and V1) and of error responses, read by a small scanner (the documents are flat and simple).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters left as they are in a key placed in a URL path: unreserved ones and `/`.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
/// In a query value, `/` is encoded too.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// An S3-compatible endpoint, addressed path-style: `<base>/<bucket>/<key>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    base: String,
}

impl Endpoint {
    /// `base` is a URL such as `https://s3.amazonaws.com` or `http://127.0.0.1:9000`.
    pub fn new(base: &str) -> Result<Self, String> {
        let b = base.trim().trim_end_matches('/');
        let rest = b
            .strip_prefix("https://")
            .or_else(|| b.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => Ok(Self { base: b.to_string() }),
            _ => Err(format!(
                "{base:?} is not an endpoint URL; give one like 'https://s3.amazonaws.com' or 'http://127.0.0.1:9000'"
            )),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of one object.
    pub fn object_url(&self, bucket: &str, key: &str) -> String {
        format!(
            "{}/{}/{}",
            self.base,
            bucket,
            utf8_percent_encode(key, PATH)
        )
    }

    /// The URL of one page of a listing.
    pub fn list_url(
        &self,
        bucket: &str,
        prefix: &str,
        mode: ListMode,
        cursor: Option<&str>,
    ) -> String {
        let p = utf8_percent_encode(prefix, QUERY);
        match (mode, cursor) {
            (ListMode::V2, None) => format!("{}/{}?list-type=2&prefix={p}", self.base, bucket),
            (ListMode::V2, Some(c)) => format!(
                "{}/{}?list-type=2&prefix={p}&continuation-token={}",
                self.base,
                bucket,
                utf8_percent_encode(c, QUERY)
            ),
            (ListMode::V1, None) => format!("{}/{}?prefix={p}", self.base, bucket),
            (ListMode::V1, Some(c)) => {
                format!(
                    "{}/{}?prefix={p}&marker={}",
                    self.base,
                    bucket,
                    utf8_percent_encode(c, QUERY)
                )
            }
        }
    }
}

/// Which ListObjects API a listing uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListMode {
    V2,
    V1,
}

/// One object of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
}

/// One page of a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ListedObject>,
    pub is_truncated: bool,
    pub next_continuation_token: Option<String>,
    pub next_marker: Option<String>,
    /// The document has V2-only elements (`KeyCount`, `ContinuationToken`, ...).
    pub looks_v2: bool,
}

/// Decode the five XML entities and numeric character references.
fn unescape(s: &str) -> Result<String, String> {
    if !s.contains('&') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| format!("unterminated XML entity in {s:?}"))?;
        let name = &after[..end];
        let ch = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code =
                    if let Some(h) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                        u32::from_str_radix(h, 16).ok()
                    } else if let Some(d) = name.strip_prefix('#') {
                        d.parse().ok()
                    } else {
                        None
                    };
                code.and_then(char::from_u32)
                    .ok_or_else(|| format!("unknown XML entity &{name}; in {s:?}"))?
            }
        };
        out.push(ch);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Walk the elements of a simple XML document, calling `on_text(path, text)` for the text
/// content of every element (`path` = element names from the root, without namespaces).
fn scan(
    xml: &str,
    mut on_text: impl FnMut(&[&str], String) -> Result<(), String>,
) -> Result<(), String> {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = xml;
    let mut text_start: Option<&str> = None;
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        let after = &rest[lt + 1..];
        if let Some(body) = after.strip_prefix("![CDATA[") {
            let end = body.find("]]>").ok_or("unterminated CDATA section")?;
            if !stack.is_empty() {
                on_text(&stack, body[..end].to_string())?;
            }
            rest = &body[end + 3..];
            text_start = None;
            continue;
        }
        let gt = after.find('>').ok_or("unterminated XML tag")?;
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = local(name.trim());
            if stack.last() != Some(&name) {
                return Err(format!("mismatched XML closing tag </{name}>"));
            }
            if text_start.take().is_some() {
                on_text(&stack, unescape(text)?)?;
            }
            stack.pop();
        } else {
            let self_closing = tag.ends_with('/');
            let name = local(
                tag.trim_end_matches('/')
                    .split_whitespace()
                    .next()
                    .unwrap_or(""),
            );
            if self_closing {
                stack.push(name);
                on_text(&stack, String::new())?;
                stack.pop();
                text_start = None;
            } else {
                stack.push(name);
                text_start = Some(rest);
            }
        }
    }
    if !stack.is_empty() {
        return Err(format!(
            "the XML document ends inside <{}>",
            stack.join("><")
        ));
    }
    Ok(())
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Parse one page of ListObjectsV2 or ListObjects (V1).
pub fn parse_list(xml: &str) -> Result<ListPage, String> {
    let mut page = ListPage::default();
    let mut saw_root = false;
    scan(xml, |path, text| {
        if path.first() == Some(&"ListBucketResult") {
            saw_root = true;
        }
        match path {
            ["ListBucketResult", "IsTruncated"] => page.is_truncated = text.trim() == "true",
            ["ListBucketResult", "NextContinuationToken"] => {
                page.next_continuation_token = Some(text)
            }
            ["ListBucketResult", "NextMarker"] => page.next_marker = Some(text),
            ["ListBucketResult", "KeyCount" | "ContinuationToken" | "StartAfter"] => {
                page.looks_v2 = true
            }
            _ => {}
        }
        Ok(())
    })?;
    if !saw_root {
        return Err("the response is not a ListBucketResult document".into());
    }
    page.objects = collect_contents(xml)?;
    Ok(page)
}

/// The `<Contents>` entries of a listing, each parsed on its own.
fn collect_contents(xml: &str) -> Result<Vec<ListedObject>, String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<Contents>") {
        let after = &rest[start + "<Contents>".len()..];
        let end = after
            .find("</Contents>")
            .ok_or("unterminated <Contents> in listing")?;
        let block = &after[..end];
        let mut obj = ListedObject {
            key: String::new(),
            size: 0,
            etag: None,
        };
        let mut has_key = false;
        let mut has_size = false;
        scan(&format!("<C>{block}</C>"), |path, text| {
            match path {
                ["C", "Key"] => {
                    obj.key = text;
                    has_key = true;
                }
                ["C", "Size"] => {
                    obj.size = text
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad object size {text:?} in listing"))?;
                    has_size = true;
                }
                ["C", "ETag"] => obj.etag = Some(text),
                _ => {}
            }
            Ok(())
        })?;
        if !has_key || !has_size {
            return Err("a <Contents> entry of the listing lacks its Key or Size".into());
        }
        out.push(obj);
        rest = &after[end + "</Contents>".len()..];
    }
    Ok(out)
}

/// The `Code` and `Message` of an S3 error document, when the body is one.
pub fn parse_error(xml: &str) -> (Option<String>, Option<String>) {
    let mut code = None;
    let mut message = None;
    let _ = scan(xml, |path, text| {
        match path {
            ["Error", "Code"] => code = Some(text),
            ["Error", "Message"] => message = Some(text),
            _ => {}
        }
        Ok(())
    });
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let e = Endpoint::new("http://127.0.0.1:9000/").unwrap();
        assert_eq!(
            e.object_url("idc-open-data", "a b/c+d.dcm"),
            "http://127.0.0.1:9000/idc-open-data/a%20b/c%2Bd.dcm"
        );
        assert_eq!(
            e.list_url("b", "s/", ListMode::V2, None),
            "http://127.0.0.1:9000/b?list-type=2&prefix=s%2F"
        );
        assert_eq!(
            e.list_url("b", "s/", ListMode::V2, Some("t/+=")),
            "http://127.0.0.1:9000/b?list-type=2&prefix=s%2F&continuation-token=t%2F%2B%3D"
        );
        assert_eq!(
            e.list_url("b", "s/", ListMode::V1, Some("s/x")),
            "http://127.0.0.1:9000/b?prefix=s%2F&marker=s%2Fx"
        );
        for bad in ["s3.amazonaws.com", "ftp://x", "http://", "http://a b"] {
            assert!(Endpoint::new(bad).is_err(), "{bad}");
        }
    }

    const V2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>idc-open-data</Name><Prefix>s/</Prefix>
<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
<Contents><Key>s/a.dcm</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>s/b&amp;c.dcm</Key><ETag>"abc-2"</ETag><Size>123456789</Size></Contents>
<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken></ListBucketResult>"#;

    #[test]
    fn list_v2() {
        let p = parse_list(V2).unwrap();
        assert!(p.looks_v2 && p.is_truncated);
        assert_eq!(
            p.next_continuation_token.as_deref(),
            Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        );
        assert_eq!(p.objects.len(), 2);
        assert_eq!(
            p.objects[0].etag.as_deref(),
            Some("\"d41d8cd98f00b204e9800998ecf8427e\"")
        );
        assert_eq!(p.objects[1].key, "s/b&c.dcm");
        assert_eq!(p.objects[1].size, 123456789);
    }

    #[test]
    fn list_v1_and_empty() {
        let v1 = "<ListBucketResult><Name>b</Name><Prefix>s/</Prefix><Marker></Marker><IsTruncated>true</IsTruncated>\
                  <Contents><Key>s/a</Key><Size>5</Size></Contents><NextMarker>s/a</NextMarker></ListBucketResult>";
        let p = parse_list(v1).unwrap();
        assert!(!p.looks_v2 && p.is_truncated);
        assert_eq!(p.next_marker.as_deref(), Some("s/a"));
        assert_eq!(
            p.objects,
            vec![ListedObject {
                key: "s/a".into(),
                size: 5,
                etag: None
            }]
        );

        let empty = "<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated><Prefix/></ListBucketResult>";
        let p = parse_list(empty).unwrap();
        assert!(p.objects.is_empty() && !p.is_truncated);
    }

    #[test]
    fn list_rejects_garbage() {
        assert!(parse_list("<Error><Code>NoSuchBucket</Code></Error>").is_err());
        assert!(parse_list(
            "<ListBucketResult><Contents><Key>x</Key></Contents></ListBucketResult>"
        )
        .is_err());
        assert!(parse_list(
            "<ListBucketResult><Contents><Key>x</Key><Size>-1</Size></Contents></ListBucketResult>"
        )
        .is_err());
        assert!(parse_list("<ListBucketResult><IsTruncated>").is_err());
        assert!(parse_list("not xml").is_err());
    }

    #[test]
    fn errors() {
        let (c, m) = parse_error("<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>");
        assert_eq!(c.as_deref(), Some("SlowDown"));
        assert_eq!(m.as_deref(), Some("Please reduce your request rate."));
        assert_eq!(parse_error("<html>502</html>"), (None, None));
    }

    #[test]
    fn entities() {
        assert_eq!(unescape("a&amp;b&#47;&#x41;&lt;").unwrap(), "a&b/A<");
        assert!(unescape("a&bogus;").is_err());
    }
}
