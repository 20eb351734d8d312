package org.attn4j.conformance;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.conformance.harness.Property;
import org.attn4j.conformance.harness.PropertyRunner;
import org.attn4j.conformance.harness.Settings;
import org.attn4j.conformance.harness.Summary;
import org.attn4j.conformance.properties.AppendProperties;
import org.attn4j.conformance.harness.ExternalAllocator;
import org.attn4j.conformance.properties.AttentionProperties;
import org.attn4j.conformance.properties.EngineProperties;
import org.attn4j.conformance.properties.Fp8Properties;
import org.attn4j.conformance.properties.KvScaleProperties;
import org.attn4j.conformance.properties.MlaProperties;
import org.attn4j.conformance.properties.RobustnessProperties;
import org.attn4j.conformance.properties.InvalidInputProperties;
import org.attn4j.conformance.properties.SplitProperties;
import org.attn4j.conformance.properties.StateProperties;
import org.attn4j.conformance.properties.Subject;
import org.attn4j.conformance.properties.VariantProperties;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.BackendProvider;
import org.attn4j.spi.Probe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestReporter;

/**
 * spec §9's conformance suite. A backend's test subclasses it in a few lines:
 *
 * <pre>{@code
 * class OpenClConformanceTest extends AttentionConformanceSuite {
 *     @Override protected String backendId() { return "opencl"; }
 * }
 * }</pre>
 *
 * Each property is one test, run over spec §9's edge cases and then {@code -Dattn4j.cases}
 * random cases from the master seed {@code -Dattn4j.seed}. The oracle is the {@code reference}
 * backend, found at run time; on the reference itself the agreement properties use the spec's
 * formulas written out directly ({@link org.attn4j.conformance.check.SpecOracle}). A backend
 * that is unavailable skips every test with its probe's reasons; cases outside a backend's
 * capabilities are skipped with reasons and counted. A failing case is shrunk and printed as a
 * reproduction that {@link #check(String, Object)} replays.
 *
 * <p>JUnit makes one instance per test class, which opens the backends before the first test and
 * closes them after the last. Not thread-safe: its tests run one at a time, as JUnit runs them by
 * default.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@DisplayNameGeneration(BackendDisplayNames.class)
public abstract class AttentionConformanceSuite {
    /** The oracle's backend id. */
    public static final String ORACLE = "reference";
    static final Map<String, String> DESCRIPTIONS = descriptions();

    private Settings settings = Settings.fromSystemProperties();
    private Summary summary;
    private AttentionBackend backend;
    private AttentionBackend oracle;
    private final Map<String, Property<?>> properties = new LinkedHashMap<>();
    private PropertyRunner runner;
    private TestReporter reporter;
    private String unavailable;

    /**
     * A suite for the backend {@link #backendId()} names. Reads the seed and the number of cases
     * from the system properties; opens nothing until the first test.
     */
    public AttentionConformanceSuite() {}

    /**
     * The backend under test. Also called on a fresh instance to name the tests, so it must not
     * depend on state set up later.
     *
     * @return the backend's id, as {@link Backends#open(String)} knows it
     */
    protected abstract String backendId();

    /**
     * Memory of the kind the backend wraps, made as an engine would make it, for the borrowed
     * memory property.
     *
     * @return the allocator; null (the default) skips that property with a reason
     */
    protected ExternalAllocator externalAllocator() {
        return null;
    }

    /**
     * The options the backend under test is opened with, for a subclass that runs the suite on
     * one configuration of a backend (a kernel flavour, a tile shape).
     *
     * @return the options; {@link BackendOptions#DEFAULT} (system properties only) by default
     */
    protected BackendOptions backendOptions() {
        return BackendOptions.DEFAULT;
    }

    /**
     * Random cases per property for this suite, given the {@code -Dattn4j.cases} asked for: a
     * subclass that repeats the suite on another configuration may run fewer.
     *
     * @param requested the cases the system properties ask for
     * @return the cases to run, at least 1
     */
    protected int cases(int requested) {
        return requested;
    }

    /**
     * Why this suite leaves property {@code key} out, or null to run it: a subclass that repeats
     * the suite on one configuration of a backend runs only the properties that configuration
     * changes. A property left out is reported as skipped with the reason.
     *
     * @param key the property, named as its test method
     * @return the reason, or null (the default) to run it
     */
    protected String skipReason(String key) {
        return null;
    }

    private static Map<String, String> descriptions() {
        Map<String, String> m = new LinkedHashMap<>();
        for (Property<?> p : allProperties(new Subject("?", null, null))) {
            m.put(p.key(), p.description());
        }
        return Map.copyOf(m);
    }

    private static List<Property<?>> allProperties(Subject s) {
        List<Property<?>> all = new ArrayList<>();
        all.addAll(new AttentionProperties(s).all());
        all.addAll(new SplitProperties(s).all());
        all.addAll(new VariantProperties(s).all());
        all.addAll(new AppendProperties(s).all());
        all.addAll(new Fp8Properties(s).all());
        all.addAll(new KvScaleProperties(s).all());
        all.addAll(new MlaProperties(s).all());
        all.addAll(new StateProperties(s).all());
        all.addAll(new InvalidInputProperties(s).all());
        all.addAll(new EngineProperties(s).all());
        all.addAll(new RobustnessProperties(s).all());
        return all;
    }

    @BeforeAll
    final void openBackends() {
        String id = backendId();
        settings = settings.withCases(Math.max(1, cases(settings.cases())));
        summary = new Summary(id, settings);
        Optional<BackendProvider> provider = Backends.find(id);
        if (provider.isEmpty()) {
            String why = "backend '" + id + "' is not on the class path";
            summary.unavailable(why);
            unavailable = why;
            return;
        }
        Probe probe = provider.get().probe();
        if (!probe.available()) {
            String why = "backend '" + id + "' is unavailable: " + String.join("; ", probe.reasons());
            summary.unavailable(why);
            unavailable = why;
            return;
        }
        backend = Backends.open(id, backendOptions());
        summary.device(backend.device());
        if (!id.equals(ORACLE)) {
            Optional<BackendProvider> ref = Backends.find(ORACLE);
            if (ref.isPresent() && ref.get().probe().available()) {
                oracle = Backends.open(ORACLE);
            }
        }
        Subject subject = new Subject(id, backend, oracle, externalAllocator());
        for (Property<?> p : allProperties(subject)) {
            properties.put(p.key(), p);
        }
        summary.order(List.copyOf(properties.keySet()));
        runner = new PropertyRunner(id, settings, summary);
        System.out.println("attn4j conformance: backend '" + id + "' on " + backend.device() + ", oracle "
                + (oracle != null ? "'" + ORACLE + "'" : "spec formulas (no separate oracle backend)") + ", seed "
                + settings.seedText() + ", " + settings.cases() + " random cases per property");
    }

    @AfterAll
    final void closeBackends() {
        if (summary != null) {
            summary.publish();
        }
        if (backend != null) {
            backend.close();
        }
        if (oracle != null) {
            oracle.close();
        }
    }

    @BeforeEach
    final void reporter(TestReporter current) {
        // Skipped test by test, not class-wide, so every property shows as skipped with the reason.
        Assumptions.assumeTrue(unavailable == null, () -> unavailable);
        reporter = current;
    }

    /**
     * Runs a property over its edge cases and then its random cases, as each of the suite's tests does.
     *
     * @param key the property, named as its test method
     * @throws IllegalArgumentException if no property has that key
     */
    protected final void property(String key) {
        Property<?> p = properties.get(key);
        if (p == null) {
            throw new IllegalArgumentException("no property '" + key + "'; known: " + properties.keySet());
        }
        String skip = skipReason(key);
        Assumptions.assumeTrue(skip == null, skip);
        runner.run(p, reporter);
    }

    /**
     * Replays one case of property {@code key}, as a failure prints it:
     * {@code check("batchDecodeMatchesOracle", new AttentionCase(...))}. Call it from a test of
     * the backend's suite subclass.
     *
     * @param <C>  the property's case type
     * @param key  the property, named as its test method
     * @param kase the case, of the type the property generates
     * @throws IllegalArgumentException if no property has that key
     */
    @SuppressWarnings("unchecked")
    protected final <C> void check(String key, C kase) {
        Property<C> p = (Property<C>) properties.get(key);
        if (p == null) {
            throw new IllegalArgumentException("no property '" + key + "'; known: " + properties.keySet());
        }
        runner.replay(p, kase);
    }

    // ------------------------------------------------------------------ agreement with the oracle

    @Test
    void singleDecodeMatchesOracle() {
        property("singleDecodeMatchesOracle");
    }

    @Test
    void singlePrefillMatchesOracle() {
        property("singlePrefillMatchesOracle");
    }

    @Test
    void batchDecodeMatchesOracle() {
        property("batchDecodeMatchesOracle");
    }

    @Test
    void batchPrefillMatchesOracle() {
        property("batchPrefillMatchesOracle");
    }

    @Test
    void raggedPrefillMatchesOracle() {
        property("raggedPrefillMatchesOracle");
    }

    @Test
    void cascadeMatchesOracle() {
        property("cascadeMatchesOracle");
    }

    @Test
    void splitKvBoundariesMatchOracle() {
        property("splitKvBoundariesMatchOracle");
    }

    // ------------------------------------------------------------------ metamorphic laws

    @Test
    void nhdEqualsHnd() {
        property("nhdEqualsHnd");
    }

    @Test
    void pageSizeInvariance() {
        property("pageSizeInvariance");
    }

    @Test
    void pagePermutationInvariance() {
        property("pagePermutationInvariance");
    }

    @Test
    void unusedSlotsIgnored() {
        property("unusedSlotsIgnored");
    }

    @Test
    void batchEqualsSingles() {
        property("batchEqualsSingles");
    }

    @Test
    void decodeEqualsPrefillWithQoLen1() {
        property("decodeEqualsPrefillWithQoLen1");
    }

    @Test
    void splitKvMergeEqualsWhole() {
        property("splitKvMergeEqualsWhole");
    }

    @Test
    void cascadeEqualsFlat() {
        property("cascadeEqualsFlat");
    }

    @Test
    void contextParallelDecodeEqualsSingle() {
        property("contextParallelDecodeEqualsSingle");
    }

    @Test
    void contextParallelPrefillEqualsSingle() {
        property("contextParallelPrefillEqualsSingle");
    }

    @Test
    void lowerTriangularMaskEqualsCausal() {
        property("lowerTriangularMaskEqualsCausal");
    }

    @Test
    void deterministicIsBatchInvariant() {
        property("deterministicIsBatchInvariant");
    }

    // ------------------------------------------------------------------ V and o of another head dim than q and K

    @Test
    void distinctHeadDimsSingleDecodeMatchesOracle() {
        property("distinctHeadDimsSingleDecodeMatchesOracle");
    }

    @Test
    void distinctHeadDimsSinglePrefillMatchesOracle() {
        property("distinctHeadDimsSinglePrefillMatchesOracle");
    }

    @Test
    void distinctHeadDimsBatchDecodeMatchesOracle() {
        property("distinctHeadDimsBatchDecodeMatchesOracle");
    }

    @Test
    void distinctHeadDimsBatchPrefillMatchesOracle() {
        property("distinctHeadDimsBatchPrefillMatchesOracle");
    }

    @Test
    void distinctHeadDimsRaggedPrefillMatchesOracle() {
        property("distinctHeadDimsRaggedPrefillMatchesOracle");
    }

    @Test
    void distinctHeadDimsCascadeMatchesOracle() {
        property("distinctHeadDimsCascadeMatchesOracle");
    }

    @Test
    void distinctHeadDimsSplitKvMergeEqualsWhole() {
        property("distinctHeadDimsSplitKvMergeEqualsWhole");
    }

    @Test
    void distinctHeadDimsCascadeEqualsFlat() {
        property("distinctHeadDimsCascadeEqualsFlat");
    }

    @Test
    void distinctHeadDimsAppendIsBitExact() {
        property("distinctHeadDimsAppendIsBitExact");
    }

    // ------------------------------------------------------------------ attention variants (sinks, ALiBi, partial rotary)

    @Test
    void sinksMatchOracle() {
        property("sinksMatchOracle");
    }

    @Test
    void alibiMatchesOracle() {
        property("alibiMatchesOracle");
    }

    @Test
    void sinksWithAlibiMatchOracle() {
        property("sinksWithAlibiMatchOracle");
    }

    @Test
    void sinksSplitMergeEqualsWhole() {
        property("sinksSplitMergeEqualsWhole");
    }

    @Test
    void cascadeWithSinksEqualsFlat() {
        property("cascadeWithSinksEqualsFlat");
    }

    @Test
    void partialRotaryMatchesOracle() {
        property("partialRotaryMatchesOracle");
    }

    // ------------------------------------------------------------------ KV append

    @Test
    void appendIsBitExact() {
        property("appendIsBitExact");
    }

    @Test
    void appendThenAttendEqualsContiguous() {
        property("appendThenAttendEqualsContiguous");
    }

    // ------------------------------------------------------------------ FP8 formats

    @Test
    void fp8CodesDecodeAsOcp() {
        property("fp8CodesDecodeAsOcp");
    }

    @Test
    void fp8QueryMatchesOracle() {
        property("fp8QueryMatchesOracle");
    }

    @Test
    void fp8AppendSaturatesAndKeepsNaN() {
        property("fp8AppendSaturatesAndKeepsNaN");
    }

    // ------------------------------------------------------------------ KV scales per head and per token

    @Test
    void kvScalesPerHeadMatchOracle() {
        property("kvScalesPerHeadMatchOracle");
    }

    @Test
    void kvScalesPerTokenMatchOracle() {
        property("kvScalesPerTokenMatchOracle");
    }

    @Test
    void kvScalesPerTokenSplitMergeEqualsWhole() {
        property("kvScalesPerTokenSplitMergeEqualsWhole");
    }

    @Test
    void kvScalesUniformPerHeadEqualsScalar() {
        property("kvScalesUniformPerHeadEqualsScalar");
    }

    @Test
    void kvScalesAppendBitExact() {
        property("kvScalesAppendBitExact");
    }

    @Test
    void distinctHeadDimsKvScalesPerHeadMatchOracle() {
        property("distinctHeadDimsKvScalesPerHeadMatchOracle");
    }

    @Test
    void distinctHeadDimsKvScalesPerTokenMatchOracle() {
        property("distinctHeadDimsKvScalesPerTokenMatchOracle");
    }

    @Test
    void distinctHeadDimsKvScalesPerTokenSplitMergeEqualsWhole() {
        property("distinctHeadDimsKvScalesPerTokenSplitMergeEqualsWhole");
    }

    // ------------------------------------------------------------------ states and RoPE

    @Test
    void mergeMatchesOracle() {
        property("mergeMatchesOracle");
    }

    @Test
    void mergeIsCommutative() {
        property("mergeIsCommutative");
    }

    @Test
    void mergeIsAssociative() {
        property("mergeIsAssociative");
    }

    @Test
    void mergeIdentity() {
        property("mergeIdentity");
    }

    @Test
    void mergeStatesMatchesOracle() {
        property("mergeStatesMatchesOracle");
    }

    @Test
    void mergeInPlaceRespectsRowMask() {
        property("mergeInPlaceRespectsRowMask");
    }

    @Test
    void standaloneRopeMatchesOracle() {
        property("standaloneRopeMatchesOracle");
    }

    @Test
    void partialRopeMatchesOracle() {
        property("partialRopeMatchesOracle");
    }

    @Test
    void partialRopeLeavesTheRestExact() {
        property("partialRopeLeavesTheRestExact");
    }

    // ------------------------------------------------------------------ errors

    @Test
    void invalidInputsRejected() {
        property("invalidInputsRejected");
    }

    // ------------------------------------------------------------------ engine integration (spec §11)

    @Test
    void stridedViewsMatchOracle() {
        property("stridedViewsMatchOracle");
    }

    @Test
    void appendFromViewsIsBitExact() {
        property("appendFromViewsIsBitExact");
    }

    @Test
    void ropeOnViewsMatchesContiguous() {
        property("ropeOnViewsMatchesContiguous");
    }

    @Test
    void borrowedMemoryMatchesOracle() {
        property("borrowedMemoryMatchesOracle");
    }

    @Test
    void deviceTableDecodeMatchesOracle() {
        property("deviceTableDecodeMatchesOracle");
    }

    @Test
    void deviceMetadataMatchesHost() {
        property("deviceMetadataMatchesHost");
    }

    @Test
    void replanningAllocatesNothing() {
        property("replanningAllocatesNothing");
    }

    @Test
    void graphReplayEqualsEager() {
        property("graphReplayEqualsEager");
    }

    // ------------------------------------------------------------------ multi-head latent attention (spec §13)

    @Test
    void mlaDecodeMatchesOracle() {
        property("mlaDecodeMatchesOracle");
    }

    @Test
    void mlaPrefillMatchesOracle() {
        property("mlaPrefillMatchesOracle");
    }

    @Test
    void mlaEqualsExpandedAttention() {
        property("mlaEqualsExpandedAttention");
    }

    @Test
    void mlaAppendIsBitExact() {
        property("mlaAppendIsBitExact");
    }

    @Test
    void mlaSplitMergeEqualsWhole() {
        property("mlaSplitMergeEqualsWhole");
    }

    @Test
    void mlaInvalidInputsRejected() {
        property("mlaInvalidInputsRejected");
    }

    // ------------------------------------------------------------------ robustness (spec §3, §7)

    @Test
    void nonFiniteInputsPropagate() {
        property("nonFiniteInputsPropagate");
    }

    @Test
    void hostileValuesRejected() {
        property("hostileValuesRejected");
    }

    @Test
    void deviceFaultsReported() {
        property("deviceFaultsReported");
    }

    @Test
    void concurrentUseIsSafe() {
        property("concurrentUseIsSafe");
    }
}
