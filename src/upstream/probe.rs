//! Read-only probes of the upstream for `ecnow-gateway doctor`: one `token.php` fetch and one
//! `campaign_tables` read. Neither goes through the token cache, so each one reports what the
//! upstream answers now.

use std::time::Duration;

use super::ContactNowClient;
use super::wire::Envelope;
use crate::error::Error;

/// What `token.php` answered to the configured credentials.
#[derive(Debug)]
pub struct TokenProbe {
    /// How long the token it handed out stays valid.
    pub lifetime: Duration,
    /// The account id, when the answer carries one.
    pub account_id: Option<String>,
    /// The token, for the next probe only; never printed.
    token: super::Token,
}

impl ContactNowClient {
    /// Asks `token.php` for a token with the configured credentials; a refusal is
    /// [`Error::UpstreamAuthFailed`].
    pub async fn probe_token(&self) -> Result<TokenProbe, Error> {
        let url = self.token_request_url();
        let envelope = Envelope::parse(self.format, &self.send(self.http.get(url)).await?)?;
        match (envelope.success, envelope.token, envelope.expire) {
            (true, Some(token), Some(expire)) => Ok(TokenProbe {
                lifetime: super::token::remaining_until(expire),
                account_id: envelope.account_id,
                token: super::Token::new(token),
            }),
            (true, _, _) => Err(Error::UpstreamFailed(
                "token answer without token or expire".into(),
            )),
            (false, _, _) => Err(Error::UpstreamAuthFailed(format!(
                "token endpoint refused: {}",
                envelope.error.unwrap_or_default()
            ))),
        }
    }

    /// Reads the campaign tables (`ecnow.php?method=campaign_tables&action=read`) with the
    /// token of `probe`, and returns how many there are and the account id if answered.
    pub async fn probe_campaign_tables(
        &self,
        probe: &TokenProbe,
    ) -> Result<(usize, Option<String>), Error> {
        let mut url = self.ecnow_url.clone();
        url.query_pairs_mut()
            .append_pair("token", probe.token.expose())
            .append_pair("method", "campaign_tables")
            .append_pair("action", "read")
            .append_pair("format", self.format.as_str())
            .append_pair("raw", "1");
        let envelope = Envelope::parse(self.format, &self.send(self.http.get(url)).await?)?;
        if !envelope.success {
            return Err(Error::UpstreamFailed(format!(
                "campaign_tables read refused: {}",
                envelope.error.unwrap_or_default()
            )));
        }
        let tables = envelope.list.map_or(0, |list| list.len());
        Ok((tables, envelope.account_id))
    }
}
