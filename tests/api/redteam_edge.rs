//! Red-team findings at the edge of the gateway (issue #11): metric labels, query parameters of
//! writes, body deadlines, ambiguous credentials, log forging and parser-level refusals.

use crate::helpers::{full_token, problem_of, spawn_app};

#[tokio::test]
async fn two_authorization_headers_are_refused_whichever_is_valid() {
    let app = spawn_app().await;
    let valid = format!("Bearer {}", full_token());
    for pair in [
        [valid.as_str(), "Bearer junk"],
        ["Bearer junk", valid.as_str()],
    ] {
        let mut headers = reqwest::header::HeaderMap::new();
        for value in pair {
            headers.append(
                reqwest::header::AUTHORIZATION,
                reqwest::header::HeaderValue::from_str(value).unwrap(),
            );
        }
        let response = app
            .http
            .get(app.url("/datasets/100/records?limit=1"))
            .headers(headers)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers().get("www-authenticate").unwrap(),
            "Bearer"
        );
        let problem = problem_of(response, 401).await;
        assert_eq!(problem["code"], "unauthenticated");
    }
    // One valid header still passes.
    assert_eq!(app.get("/datasets/100/records?limit=1").await.status(), 200);
}
