//! The SPC-4 commands of a logical unit: REQUEST SENSE, INQUIRY, MODE
//! SENSE/SELECT, REPORT SUPPORTED OPERATION CODES, PREVENT ALLOW, START
//! STOP UNIT, RESERVE/RELEASE and PERSISTENT RESERVE IN/OUT.

use super::*;
use crate::data::{BlockDescriptor, ModeParameters, StandardInquiry};

impl LogicalUnit {
    pub(super) fn request_sense(&self, req: &Request<'_>, desc: bool, alloc: u8) -> Response {
        let alloc = usize::from(alloc);
        let sense = self
            .take_attention(req.nexus.id)
            .unwrap_or_else(|| Sense::new(SenseKey::NO_SENSE, Asc::NO_ADDITIONAL_SENSE));
        let wanted = if desc {
            SenseFormat::Descriptor
        } else {
            SenseFormat::Fixed
        };
        Response::good(truncate(sense.encode(wanted), alloc))
    }

    pub(super) fn inquiry(
        &self,
        req: &Request<'_>,
        evpd: bool,
        cmddt_or_reserved: bool,
        page: u8,
        alloc: u16,
    ) -> Outcome {
        if cmddt_or_reserved {
            return Err(field(1, Some(1)));
        }
        let alloc = usize::from(alloc);
        if !evpd {
            if page != 0 {
                return Err(field(2, None));
            }
            return Ok(truncate(self.standard_inquiry(), alloc));
        }
        let data = vpd::page(self, req.nexus, page).ok_or_else(|| field(2, None))?;
        Ok(truncate(data, alloc))
    }

    pub(super) fn standard_inquiry(&self) -> Vec<u8> {
        // An empty field is sent as spaces (SPC-4 §4.3.1).
        let text = |s: &str| if s.is_empty() { " " } else { s }.to_owned();
        StandardInquiry {
            // Connected direct-access block device, not removable, SPC-4.
            version: 0x06,
            hisup: true,
            response_data_format: 2,
            additional_length: StandardInquiry::FULL_ADDITIONAL_LENGTH,
            cmdque: true,
            // EXTENDED COPY and RECEIVE COPY RESULTS (SPC-4 §6.4).
            three_pc: true,
            // Implicit and explicit ALUA when the unit has port groups.
            tpgs: self.tpgs(),
            vendor: text(&self.config.vendor),
            product: text(&self.config.product),
            revision: text(&self.config.revision),
            // Version descriptors: SAM-5, iSCSI (RFC 7143), SPC-4, SBC-3.
            version_descriptors: vec![0x00a0, 0x0960, 0x0460, 0x04c0],
            ..StandardInquiry::default()
        }
        .encode()
    }

    pub(super) fn mode_sense(&self, fields: &ModeSense) -> Outcome {
        let &ModeSense {
            ten,
            dbd,
            llbaa,
            page_control: pc,
            page_code: page,
            subpage_code: subpage,
            allocation_length,
            ..
        } = fields;
        let alloc = usize::from(allocation_length);
        if pc == 3 {
            return Err(illegal(Asc::new(0x39, 0x00)));
        }
        let mode = *lock(&self.mode);
        let pages = crate::mode::pages(page, subpage, pc, &mode_view(mode))
            .ok_or_else(|| field(2, Some(5)))?;
        let block_descriptors = if dbd {
            Vec::new()
        } else {
            vec![BlockDescriptor::new(self.block_count(), self.block_size)]
        };
        // DEVICE-SPECIFIC PARAMETER: WP when write protected, DPOFUA always.
        let device_specific = if self.read_only() || mode.swp {
            0x80
        } else {
            0
        } | 0x10;
        let data = ModeParameters::new(device_specific, llbaa, block_descriptors, pages);
        let out = if ten { data.encode10() } else { data.encode6() };
        Ok(truncate(out, alloc))
    }

    pub(super) fn mode_select(
        &self,
        req: &Request<'_>,
        ten: bool,
        sp: bool,
        command: &Command,
    ) -> Outcome {
        let len = usize::try_from(command.parameter_list_length()).unwrap_or(usize::MAX);
        if sp {
            // SP: saving pages is not supported.
            return Err(field(1, Some(0)));
        }
        if len == 0 {
            return Ok(Bytes::new());
        }
        let data = req.data_out_bytes();
        if data.len() < len {
            return Err(illegal(Asc::PARAMETER_LIST_LENGTH_ERROR));
        }
        let data = data.slice(..len);
        let mut mode = *lock(&self.mode);
        let old = mode;
        crate::mode::select(&data, ten, &mut mode_view_mut(&mut mode))?;
        *lock(&self.mode) = mode;
        if mode.wce != old.wce || mode.d_sense != old.d_sense || mode.swp != old.swp {
            self.queue_attention_all(
                Some(req.nexus.id),
                Sense::new(SenseKey::UNIT_ATTENTION, Asc::MODE_PARAMETERS_CHANGED),
            );
        }
        Ok(Bytes::new())
    }

    pub(super) fn prevent_allow(&self, req: &Request<'_>, prevent: u8) -> Outcome {
        let mut p = lock(&self.prevent);
        p.retain(|n| *n != req.nexus.id);
        if prevent & 0x01 != 0 {
            p.push(req.nexus.id);
        }
        Ok(Bytes::new())
    }

    pub(super) fn start_stop_unit(&self, power_condition: u8, loej: bool, start: bool) -> Outcome {
        if !matches!(power_condition, 0 | 1 | 2 | 3 | 5 | 7 | 0xa | 0xb) {
            return Err(field(4, Some(7)));
        }
        if power_condition == 0 && loej && !start && !lock(&self.prevent).is_empty() {
            return Err(illegal(Asc::MEDIUM_REMOVAL_PREVENTED));
        }
        Ok(Bytes::new())
    }

    pub(super) fn reserve(&self, req: &Request<'_>, third_party_or_extents: bool) -> Outcome {
        if third_party_or_extents {
            return Err(field(1, Some(0)));
        }
        let mut r = lock(&self.reservations);
        let result = r.reserve_spc2(req.nexus);
        self.any_reservation.store(r.active(), Ordering::Release);
        result.map(|()| Bytes::new())
    }

    pub(super) fn release(&self, req: &Request<'_>) -> Outcome {
        let mut r = lock(&self.reservations);
        r.release_spc2(req.nexus);
        self.any_reservation.store(r.active(), Ordering::Release);
        Ok(Bytes::new())
    }

    pub(super) fn persistent_reserve_in(
        &self,
        req: &Request<'_>,
        service_action: u8,
        alloc: u16,
    ) -> Outcome {
        let r = lock(&self.reservations);
        let data = r.pr_in(service_action, req.nexus)?;
        Ok(truncate(data, usize::from(alloc)))
    }

    pub(super) fn persistent_reserve_out(
        &self,
        req: &Request<'_>,
        service_action: u8,
        scope_type: u8,
        parameter_list_length: u32,
    ) -> Outcome {
        let len = usize::try_from(parameter_list_length).unwrap_or(usize::MAX);
        let data = req.data_out_bytes();
        // 24 bytes; REGISTER AND MOVE adds a TransportID.
        let fits = if service_action == crate::pr::REGISTER_AND_MOVE {
            (24..=24 + 1024).contains(&len)
        } else {
            len == 24
        };
        if !fits || data.len() < len {
            return Err(illegal(Asc::PARAMETER_LIST_LENGTH_ERROR));
        }
        let data = data.slice(..len);
        let mut r = lock(&self.reservations);
        let known = lock(&self.nexuses).clone();
        // The change is made on a copy, saved when APTPL is (or was) in
        // effect, and only then takes effect: what the initiator was told
        // is what a restart finds.
        let mut next = r.clone();
        let effects = next.pr_out(service_action, scope_type, &data, req.nexus)?;
        if let Some(store) = &self.config.pr_store
            && (next.aptpl() || r.aptpl())
        {
            let text = next.aptpl().then(|| next.persistent_text());
            store.save(text.as_deref()).map_err(|e| {
                Fail::Medium(
                    Sense::new(
                        SenseKey::ILLEGAL_REQUEST,
                        Asc::INSUFFICIENT_REGISTRATION_RESOURCES,
                    ),
                    format!("cannot save the persistent reservations: {e}"),
                )
            })?;
        }
        *r = next;
        self.any_reservation.store(r.active(), Ordering::Release);
        drop(r);
        for (ids, sense) in effects.attentions {
            let ids: Vec<u64> = ids.into_iter().filter(|id| known.contains(id)).collect();
            self.queue_attention_ids(&ids, sense);
        }
        if !effects.aborts.is_empty()
            && let Some(task_sets) = &self.config.task_sets
        {
            task_sets.abort(&effects.aborts);
        }
        Ok(Bytes::new())
    }
}
