//! The `receipts` gossip topic: miners ask a job's coordinator to attest a receipt, and the
//! coordinator answers with its attestation, so a miner and its coordinator need not run on
//! one node (seed 004 §7 used an HTTP call to a central service instead).
//!
//! Every node checks a message before gossip forwards it: a signature that does not verify is
//! the sender's fault; a receipt for a job this node does not know (yet) is not forwarded but
//! not blamed either. Checked messages go to the compute roles ([`super::compute`]).

use super::Driver;
use crate::ledger::payload::job::Job;
use crate::ledger::StateKey;
use crate::network::{GossipId, Verdict};
use crate::wire::ReceiptGossip;

impl Driver {
    pub(super) fn on_receipt_gossip(&mut self, msg: ReceiptGossip, id: GossipId) {
        if !msg.signature_ok() {
            return self.report(id, Verdict::Reject);
        }
        let r = msg.receipt();
        let job: Option<Job> = crate::ledger::read(self.store.as_ref(), &StateKey::Job(r.job_id)).ok().flatten();
        let Some(job) = job else { return self.report(id, Verdict::Ignore) };
        let names_job = job.client == r.client && job.post.price == r.price;
        // Signed by the party it speaks for: the job's coordinator, or the receipt's miner.
        let signed_by_its_party = match &msg {
            ReceiptGossip::Attestation { coordinator_key, .. } => {
                crate::primitives::Address::from_public_key(coordinator_key) == job.post.coordinator
            }
            ReceiptGossip::Request { miner_key, .. } => {
                crate::primitives::Address::from_public_key(miner_key) == r.miner
            }
        };
        if !names_job || !signed_by_its_party {
            return self.report(id, Verdict::Reject);
        }
        self.report(id, Verdict::Accept);
        let _ = self.receipts.send(msg);
    }
}
