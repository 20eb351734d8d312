package org.attn4j.examples.engine;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD16Async;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.CapturedGraph;
import org.attn4j.cuda.CudaInterop;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.options.RopeOptions;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * The attention block of a Llama-3-8B-shaped model (32 layers, Hq 32, Hkv 8, D 128, page 16)
 * inside an engine that owns its memory and stream: the engine allocates its fused QKV output,
 * its paged KV pools and its step metadata with JCuda, and attn4j computes RoPE, KV append and
 * decode over views of them on the engine's stream, one decode step captured once in a CUDA
 * graph and replayed step after step with new positions and page ids written into the same
 * buffers.
 *
 * <p>Run on a machine with a CUDA GPU: {@code LlamaAttentionEngine [batch] [kvLen] [steps] [layers]}
 * (defaults 64, 4096, 64, 32; about 35 GB of KV pools at the defaults).
 */
public final class LlamaAttentionEngine {
    static final int HQ = 32;
    static final int HKV = 8;
    static final int D = 128;
    static final int PAGE = 16;

    public static void main(String[] args) {
        int batch = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        int kvLen = args.length > 1 ? Integer.parseInt(args[1]) : 4096;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        int layers = args.length > 3 ? Integer.parseInt(args[3]) : 32;
        new LlamaAttentionEngine(batch, kvLen, steps, layers).run();
    }

    private final int batch;
    private final int kvLen;
    private final int steps;
    private final int layers;
    private final int pagesPerRequest;
    private final List<CUdeviceptr> engineMemory = new ArrayList<>();

    LlamaAttentionEngine(int batch, int kvLen, int steps, int layers) {
        this.batch = batch;
        this.kvLen = kvLen;
        this.steps = steps;
        this.layers = layers;
        this.pagesPerRequest = (kvLen + steps + PAGE) / PAGE;
    }

    /** Device memory the engine owns (freed by the engine, never by attn4j). */
    private CUdeviceptr engineAlloc(long bytes) {
        CUdeviceptr p = new CUdeviceptr();
        cuMemAlloc(p, bytes);
        engineMemory.add(p);
        return p;
    }

    void run() {
        // ---- the engine's own CUDA objects
        JCudaDriver.setExceptionsEnabled(true);
        cuInit(0);
        CUdevice device = new CUdevice();
        cuDeviceGet(device, 0);
        CUcontext context = new CUcontext();
        cuDevicePrimaryCtxRetain(context, device); // attn4j works in the device's primary context
        cuCtxSetCurrent(context);
        CUstream stream = new CUstream();
        cuStreamCreate(stream, 0);

        int heads = HQ + 2 * HKV;
        long fusedBytes = (long) batch * heads * D * 2;                          // bf16 [B, Hq + 2 Hkv, D]
        long poolBytes = (long) batch * pagesPerRequest * PAGE * HKV * D * 2;    // bf16 [pages, 16, Hkv, D]
        CUdeviceptr fused = engineAlloc(fusedBytes);
        CUdeviceptr[] kPools = new CUdeviceptr[layers];
        CUdeviceptr[] vPools = new CUdeviceptr[layers];
        for (int l = 0; l < layers; l++) {
            kPools[l] = engineAlloc(poolBytes);
            vPools[l] = engineAlloc(poolBytes);
            cuMemsetD16Async(kPools[l], (short) 0x3C00, poolBytes / 2, stream); // the prompt's K/V, here 1.0
            cuMemsetD16Async(vPools[l], (short) 0x3C00, poolBytes / 2, stream);
        }
        List<CUdeviceptr> outputs = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            outputs.add(engineAlloc((long) batch * HQ * D * 2));
        }
        // Step metadata in device memory: positions, the page table; written each step below.
        CUdeviceptr positions = engineAlloc(4L * batch);
        CUdeviceptr batchIndices = engineAlloc(4L * batch);
        CUdeviceptr indptr = engineAlloc(4L * (batch + 1));
        CUdeviceptr indices = engineAlloc(4L * batch * pagesPerRequest);
        CUdeviceptr lastPageLen = engineAlloc(4L * batch);
        Pointer pinned = new Pointer();
        long metaInts = 3L * batch + 1 + (long) batch * pagesPerRequest + batch;
        cuMemAllocHost(pinned, 4 * metaInts);

        // ---- attn4j on the engine's stream, over the engine's memory
        try (AttentionBackend attn = CudaInterop.open(0, stream)) {
            Tensor qkv = attn.wrap(CudaInterop.memory(fused, fusedBytes), DType.BF16, batch, heads, D);
            long row = (long) heads * D;
            Tensor q = qkv.view(0, new long[] {batch, HQ, D}, new long[] {row, D, 1});
            Tensor k = qkv.view((long) HQ * D, new long[] {batch, HKV, D}, new long[] {row, D, 1});
            Tensor v = qkv.view((long) (HQ + HKV) * D, new long[] {batch, HKV, D}, new long[] {row, D, 1});
            long pages = (long) batch * pagesPerRequest;
            PagedKvCache[] caches = new PagedKvCache[layers];
            Tensor[] out = new Tensor[layers];
            for (int l = 0; l < layers; l++) {
                caches[l] = PagedKvCache.separate(
                        attn.wrap(CudaInterop.memory(kPools[l], poolBytes), DType.BF16, pages, PAGE, HKV, D),
                        attn.wrap(CudaInterop.memory(vPools[l], poolBytes), DType.BF16, pages, PAGE, HKV, D),
                        KvLayout.NHD);
                out[l] = attn.wrap(CudaInterop.memory(outputs.get(l), (long) batch * HQ * D * 2), DType.BF16,
                        batch, HQ, D);
            }
            Tensor pos = attn.wrap(CudaInterop.memory(positions, 4L * batch), DType.I32, batch);
            Tensor who = attn.wrap(CudaInterop.memory(batchIndices, 4L * batch), DType.I32, batch);
            DevicePageTable table = new DevicePageTable(
                    attn.wrap(CudaInterop.memory(indptr, 4L * (batch + 1)), DType.I32, batch + 1),
                    attn.wrap(CudaInterop.memory(indices, 4L * pages), DType.I32, pages),
                    attn.wrap(CudaInterop.memory(lastPageLen, 4L * batch), DType.I32, batch),
                    PAGE, kvLen + steps + 1);

            // Planned once, for the longest request the table will ever describe.
            HeadConfig llama = new HeadConfig(HQ, HKV, D);
            RopeOptions rope = RopeOptions.DEFAULT.withTheta(500000);
            try (BatchAttentionPlan decode = attn.planBatchDecode(table, llama, AttentionOptions.DEFAULT,
                    PlanOptions.DEFAULT.withDtypes(DType.BF16, DType.BF16))) {
                Runnable step = () -> {
                    for (int l = 0; l < layers; l++) {
                        attn.applyRope(q, k, pos, rope);
                        attn.appendPagedKv(k, v, who, pos, caches[l], table);
                        decode.run(q, caches[l], out[l], null);
                    }
                };
                writeStep(pinned, stream, 0, positions, batchIndices, indptr, indices, lastPageLen);
                step.run(); // the first step eagerly (first uses upload what a capture cannot record)
                try (CapturedGraph graph = attn.captureGraph(step)) {
                    CUevent start = new CUevent();
                    CUevent stop = new CUevent();
                    cuEventCreate(start, 0);
                    cuEventCreate(stop, 0);
                    cuEventRecord(start, stream);
                    for (int s = 1; s <= steps; s++) {
                        // The model's projection would write qkv here; the engine writes the step's metadata.
                        writeStep(pinned, stream, s, positions, batchIndices, indptr, indices, lastPageLen);
                        graph.replay();
                    }
                    cuEventRecord(stop, stream);
                    cuEventSynchronize(stop);
                    float[] ms = new float[1];
                    cuEventElapsedTime(ms, start, stop);
                    System.out.printf("%d steps of %d layers, B %d, kvLen %d..%d: %.1f us per step%n", steps, layers,
                            batch, kvLen, kvLen + steps, ms[0] * 1000 / steps);
                }
            }
            attn.synchronize(); // reports any fault a kernel found in the metadata
        } finally {
            cuStreamSynchronize(stream);
            cuMemFreeHost(pinned);
            engineMemory.forEach(JCudaDriver::cuMemFree);
            cuStreamDestroy(stream);
            cuDevicePrimaryCtxRelease(device);
        }
    }

    /**
     * Step {@code s}'s metadata, written by the engine into its device buffers on its stream:
     * every request at kvLen + s + 1 tokens, the new token's position, the pages that hold them
     * (request b owns pages b * pagesPerRequest onwards). One pinned staging buffer suffices
     * because the engine waits for the previous step before overwriting it; an engine that lets
     * the host run ahead keeps one staging buffer per step in flight.
     */
    private void writeStep(Pointer pinned, CUstream stream, int s, CUdeviceptr positions, CUdeviceptr batchIndices,
                           CUdeviceptr indptr, CUdeviceptr indices, CUdeviceptr lastPageLen) {
        cuStreamSynchronize(stream);
        int len = kvLen + s + 1;
        int n = (len + PAGE - 1) / PAGE;
        long[] sizes = {batch, batch, batch + 1, (long) batch * n, batch};
        CUdeviceptr[] targets = {positions, batchIndices, indptr, indices, lastPageLen};
        long total = 0;
        for (long size : sizes) {
            total += size;
        }
        IntBuffer ints = pinned.getByteBuffer(0, 4 * total).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer();
        for (int b = 0; b < batch; b++) {
            ints.put(len - 1);                               // positions: the new token's
        }
        for (int b = 0; b < batch; b++) {
            ints.put(b);                                     // batch indices: token b belongs to request b
        }
        for (int b = 0; b <= batch; b++) {
            ints.put(b * n);                                 // indptr
        }
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < n; i++) {
                ints.put(b * pagesPerRequest + i);           // indices
            }
        }
        for (int b = 0; b < batch; b++) {
            ints.put(len - (n - 1) * PAGE);                  // last page lengths
        }
        long offset = 0;
        for (int i = 0; i < sizes.length; i++) {
            cuMemcpyHtoDAsync(targets[i], pinned.withByteOffset(4 * offset), 4 * sizes[i], stream);
            offset += sizes[i];
        }
    }
}
