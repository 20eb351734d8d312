// A page table held in device memory (I32 buffers the caller writes), copied into a plan's own
// arrays with every value checked, so the attention kernels read only arrays that are in range.
// One work-group: a request whose index range, last page length, length or page ids are out of
// range becomes empty and the first such fault is recorded. Outputs: indptrOut [B + 1] (the
// kept requests' page counts, prefix-summed), indicesOut [capacity] (their page ids, packed),
// lastOut [B] and kvLensOut [B].

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void sanitize_table(__global const int* indptr, __global const int* indices, __global const int* lastPageLen,
                    __global int* indptrOut, __global int* indicesOut, __global int* lastOut,
                    __global int* kvLensOut, __global int* fault,
                    int batch, int capacity, int pageSize, int maxKvLen, int numPages) {
    __local int sums[WG];
    const int lid = get_local_id(0);
    int carry = 0;
    if (lid == 0) {
        indptrOut[0] = 0;
    }
    for (int b0 = 0; b0 < batch; b0 += WG) {
        const int b = b0 + lid;
        int n = 0;
        int len = 0;
        int start = 0;
        if (b < batch) {
            start = indptr[b];
            const int end = indptr[b + 1];
            n = end - start;
            bool ok = start >= 0 && n >= 0 && end <= capacity;
            if (!ok) {
                report_fault(fault, FAULT_PAGE_RANGE, b, start);
            } else if (n > 0) {
                const int last = lastPageLen[b];
                const long l = (long) (n - 1) * pageSize + last;
                if (last < 1 || last > pageSize) {
                    report_fault(fault, FAULT_LENGTH, b, last);
                    ok = false;
                } else if (l > maxKvLen) {
                    report_fault(fault, FAULT_LENGTH, b, (int) min(l, (long) INT_MAX));
                    ok = false;
                } else {
                    for (int i = start; i < start + n; i++) {
                        const int page = indices[i];
                        if (page < 0 || page >= numPages) {
                            report_fault(fault, FAULT_PAGE_ID, i, page);
                            ok = false;
                            break;
                        }
                    }
                }
                len = (int) l;
            }
            if (!ok) {
                n = 0;
                len = 0;
            }
            lastOut[b] = n > 0 ? lastPageLen[b] : 0;
            kvLensOut[b] = len;
        }
        // Inclusive prefix sum of the page counts over the work-group.
        sums[lid] = n;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int o = 1; o < WG; o <<= 1) {
            int add = lid >= o ? sums[lid - o] : 0;
            barrier(CLK_LOCAL_MEM_FENCE);
            sums[lid] += add;
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        const int before = carry + sums[lid] - n;
        if (b < batch) {
            indptrOut[b + 1] = before + n;
            for (int i = 0; i < n; i++) {
                indicesOut[before + i] = indices[start + i];
            }
        }
        carry += sums[WG - 1];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}
