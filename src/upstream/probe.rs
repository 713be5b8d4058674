//! Read-only probes of the upstream for `ecnow-gateway doctor`: one `token.php` fetch, one
//! `campaign_tables` read and one `campaign_fields` read. Neither goes through the token cache, so each one reports what the
//! upstream answers now.

use std::time::Duration;

use super::catalog::{campaign_field, campaign_table};
use super::metadata::Listing;
use super::wire::Envelope;
use super::{ContactNowClient, query};
use crate::domain::TableName;
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
        let envelope: Envelope =
            Envelope::parse(self.format, &self.send(self.http.get(url)).await?)?;
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
    /// token of `probe`, and returns how many there are, the first one's name (when usable) and
    /// the account id if answered.
    pub async fn probe_campaign_tables(
        &self,
        probe: &TokenProbe,
    ) -> Result<(usize, Option<TableName>, Option<String>), Error> {
        let envelope = self
            .probe_read(probe, query::CAMPAIGN_TABLES_METHOD, None)
            .await?;
        if !envelope.success {
            return Err(Error::UpstreamFailed(format!(
                "campaign_tables read refused: {}",
                envelope.error.unwrap_or_default()
            )));
        }
        let rows = envelope.list.unwrap_or_default();
        let first = rows.first().and_then(|row| campaign_table(row).ok());
        Ok((rows.len(), first, envelope.account_id))
    }

    /// Reads the fields of `table` (`campaign_fields`) with the token of `probe`: how many
    /// fields and how many of them custom, or ContactNow's refusal (writes then fall back to
    /// the syntax rules).
    pub async fn probe_campaign_fields(
        &self,
        probe: &TokenProbe,
        table: &TableName,
    ) -> Result<Listing<(usize, usize)>, Error> {
        let envelope = self
            .probe_read(probe, query::CAMPAIGN_FIELDS_METHOD, Some(table))
            .await?;
        if !envelope.success {
            return Ok(Listing::Refused(envelope.error.unwrap_or_default()));
        }
        let fields = envelope
            .list
            .unwrap_or_default()
            .iter()
            .map(campaign_field)
            .collect::<Result<Vec<_>, _>>()?;
        let custom = fields.iter().filter(|field| !field.standard).count();
        Ok(Listing::Known((fields.len(), custom)))
    }

    /// One read of `method` on `ecnow.php` with the token of `probe` (and `table=`, if given).
    async fn probe_read(
        &self,
        probe: &TokenProbe,
        method: &str,
        table: Option<&TableName>,
    ) -> Result<Envelope, Error> {
        let mut url = self.ecnow_url.clone();
        {
            let mut pairs = url.query_pairs_mut();
            pairs
                .append_pair("token", probe.token.expose())
                .append_pair("method", method)
                .append_pair("action", "read")
                .append_pair("format", self.format.as_str())
                .append_pair("raw", "1");
            if let Some(table) = table {
                pairs.append_pair("table", table.as_str());
            }
        }
        Envelope::parse(self.format, &self.send(self.http.get(url)).await?)
    }
}
