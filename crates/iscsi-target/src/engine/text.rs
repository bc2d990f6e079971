//! Text Requests in full-feature phase (RFC 7143 §11.10, §11.11):
//! SendTargets (Appendix C), long answers in pieces, and refusal of
//! operational renegotiation.

use bytes::{Bytes, BytesMut};
use iscsi_pdu::text::{TextPairs, encode_text};
use iscsi_pdu::{Itt, Lun, Pdu, RejectReason, TextRequest, TextResponse, Ttt};

use super::{Engine, PendingText, data_in_limit};

impl Engine {
    pub(super) fn text_request(&mut self, h: &TextRequest, data: &Bytes) {
        let limit = data_in_limit(&self.params);
        // Continuing a long answer (RFC 7143 §11.11): an empty request with
        // our TTT asks for the next piece.
        if h.ttt != Ttt::RESERVED {
            match self.text.take() {
                Some(p) if p.ttt == h.ttt && p.itt == h.itt => {
                    self.send_text_piece(h.itt, p.ttt, p.rest, limit);
                }
                _ => self.reject_pdu(RejectReason::PROTOCOL_ERROR, *h),
            }
            return;
        }
        self.text = None;
        if self.text_request.len() + data.len() > 65_536 {
            self.text_request.clear();
            self.reject_pdu(RejectReason::PROTOCOL_ERROR, *h);
            return;
        }
        self.text_request.extend_from_slice(data);
        if h.continue_bit {
            // Acknowledge a continued request with an empty response.
            let ttt = self.alloc_ttt();
            self.send_text_piece_final(h.itt, ttt, Bytes::new(), false);
            return;
        }
        let request = std::mem::take(&mut self.text_request);
        let Ok(pairs) = TextPairs::parse(&request) else {
            self.reject_pdu(RejectReason::PROTOCOL_ERROR, *h);
            return;
        };
        let mut answer = BytesMut::new();
        for (key, value) in pairs.iter() {
            if key == "SendTargets" {
                self.send_targets(value, &mut answer);
            } else {
                let reply = match iscsi_login::keys::lookup(key) {
                    // Renegotiation in full feature phase is not offered.
                    Some(_) => "Reject",
                    None => "NotUnderstood",
                };
                encode_text([(key, reply)], &mut answer);
            }
        }
        let ttt = self.alloc_ttt();
        self.send_text_piece(h.itt, ttt, answer.freeze(), limit);
    }

    /// SendTargets (RFC 7143 §13.3, Appendix C): `All` lists every target
    /// of a Discovery session; a name lists that one; empty means the
    /// session's own target.
    fn send_targets(&self, value: &str, out: &mut BytesMut) {
        let own = self.params.target_name.as_deref();
        let discovery = self.params.session_type == iscsi_login::SessionType::Discovery;
        for entry in &self.config.send_targets {
            let wanted = match value {
                "All" => discovery || Some(entry.name.as_str()) == own,
                "" => Some(entry.name.as_str()) == own,
                name => entry.name == name && (discovery || Some(name) == own),
            };
            if wanted {
                encode_text([("TargetName", entry.name.as_str())], out);
                for address in &entry.addresses {
                    encode_text([("TargetAddress", address.as_str())], out);
                }
            }
        }
    }

    fn send_text_piece(&mut self, itt: Itt, ttt: Ttt, mut text: Bytes, limit: usize) {
        if text.len() > limit {
            // Cut at a pair boundary when one fits, else anywhere (a pair may
            // span PDUs, RFC 7143 §6.1).
            let cut = text
                .get(..limit)
                .and_then(|head| head.iter().rposition(|b| *b == 0))
                .map_or(limit, |nul| nul + 1);
            let rest = text.split_off(cut);
            self.text = Some(PendingText { itt, ttt, rest });
            self.send_text_piece_final(itt, ttt, text, false);
        } else {
            self.send_text_piece_final(itt, Ttt::RESERVED, text, true);
        }
    }

    fn send_text_piece_final(&mut self, itt: Itt, ttt: Ttt, data: Bytes, last: bool) {
        let resp = TextResponse {
            final_bit: last,
            continue_bit: !last && !data.is_empty(),
            lun: Lun::default(),
            itt,
            ttt,
            stat_sn: self.next_stat_sn(),
            exp_cmd_sn: self.exp_cmd_sn,
            max_cmd_sn: self.max_cmd_sn(),
        };
        self.transmit.push_back(Pdu::new(resp, data));
    }
}
