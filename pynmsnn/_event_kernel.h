/*
 * The event-driven inference kernel (see _cscan.c, "Event-driven inference"),
 * compiled once per instruction set: _cscan.c includes this file with
 *
 *   EK_NAME(name)      the name of this copy's function `name`
 *   EK_TARGET          its target attribute (empty for the portable copy)
 *   EK_LANES           float32 lanes of its vectors (16 AVX-512, 8 AVX2, 4 SSE2/NEON)
 *   EK_BLOCK           vectors of sums held in registers by the widest block
 *   EK_COMPACT         the function that lists the neurons that fired
 *
 * and undefines them at its end.
 *
 * Vectors are GCC's vector extension sized to the instruction set, so that
 * each copy keeps its sums in registers (generic 64-byte vectors compiled for
 * AVX2 go through the stack and run several times slower).
 */

typedef float EK_NAME(floatv) __attribute__((vector_size(4 * EK_LANES), aligned(4), may_alias));
typedef int32_t EK_NAME(intv) __attribute__((vector_size(4 * EK_LANES)));
typedef uint32_t EK_NAME(wordv) __attribute__((vector_size(4 * EK_LANES), aligned(2), may_alias));
typedef uint8_t EK_NAME(bytev) __attribute__((vector_size(EK_LANES), aligned(1), may_alias));
#define floatv EK_NAME(floatv)
#define intv EK_NAME(intv)
#define wordv EK_NAME(wordv)
#define bytev EK_NAME(bytev)

/* round_to_bf16 on every lane. */
#define ROUND_TO_BF16_V(value) \
    ((floatv)((((wordv)(value)) + 0x7FFF + ((((wordv)(value)) >> 16) & 1)) & 0xFFFF0000u))

/*
 * One step of n LIF neurons (the equations of _cscan.c, LIF_*), spikes (0 or 1)
 * to fired. With a bias, current is a product of spikes and weights: rounded
 * to bfloat16 first when round_bf16, then the bias is added. With pooled, the
 * spikes are also added to it with weight w (the readout's time average).
 */
EK_TARGET static inline __attribute__((always_inline)) void EK_NAME(lif_step)(
    const float *restrict current, const float *restrict bias, int round_bf16, float *restrict v,
    uint8_t *restrict fired, float *restrict pooled, float w, Py_ssize_t n,
    const Neuron_float *restrict neuron)
{
    const Neuron_float p = *neuron;
    Py_ssize_t j = 0;
    for (; j + EK_LANES <= n; j += EK_LANES) {
        floatv input = *(const floatv *)(current + j);
        if (bias != NULL)
            input = (round_bf16 ? ROUND_TO_BF16_V(input) : input) + *(const floatv *)(bias + j);
        floatv value = LIF_INTEGRATE(*(floatv *)(v + j), input, p);
        intv spiked = LIF_FIRES(value, p) & 1; /* a vector comparison gives -1 or 0 */
        floatv spike = __builtin_convertvector(spiked, floatv);
        *(floatv *)(v + j) = LIF_RESET(value, spike, p);
        *(bytev *)(fired + j) = __builtin_convertvector(spiked, bytev);
        if (pooled != NULL)
            *(floatv *)(pooled + j) += w * spike;
    }
    for (; j < n; j++) {
        float input = current[j], value;
        if (bias != NULL)
            input = (round_bf16 ? round_to_bf16(input) : input) + bias[j];
        float spike = lif_step_float(input, v + j, &value, &p);
        fired[j] = (uint8_t)spike;
        if (pooled != NULL)
            pooled[j] += w * spike;
    }
}

/*
 * product[k] = sum over a < n_terms of scale[a] * weight[row[a], k], for k < n_out,
 * where row[a] = rows[a] (every row in order when rows is NULL) and scale[a] =
 * scales[a] (1 when scales is NULL): the spikes' product from the indices of
 * the neurons that fired, or a dense product. Inlined with NULL constants, the
 * branches on them are decided when compiling.
 */
EK_TARGET static inline __attribute__((always_inline)) void EK_NAME(row_sum)(
    const float *restrict weight, const int32_t *restrict rows, const float *restrict scales,
    Py_ssize_t n_terms, float *restrict product, Py_ssize_t n_out)
{
#define ROW(a) (weight + (rows != NULL ? (Py_ssize_t)rows[a] : (a)) * n_out)
#define SCALE(a) (scales != NULL ? scales[a] : 1.0f)
    Py_ssize_t k0 = 0;
    /* Blocks of EK_BLOCK vectors, then of a quarter of that, then single ones. */
#define ROW_SUM_BLOCKS(VECTORS)                                                              \
    for (; k0 + EK_LANES * (VECTORS) <= n_out; k0 += EK_LANES * (VECTORS)) {                \
        floatv sum[VECTORS];                                                                 \
        for (int i = 0; i < (VECTORS); i++) sum[i] = (floatv){0};                            \
        for (Py_ssize_t a = 0; a < n_terms; a++) {                                           \
            const floatv *row = (const floatv *)(ROW(a) + k0);                               \
            if (scales != NULL)                                                              \
                for (int i = 0; i < (VECTORS); i++) sum[i] += SCALE(a) * row[i];             \
            else                                                                             \
                for (int i = 0; i < (VECTORS); i++) sum[i] += row[i];                        \
        }                                                                                    \
        for (int i = 0; i < (VECTORS); i++) *(floatv *)(product + k0 + EK_LANES * i) = sum[i]; \
    }
    ROW_SUM_BLOCKS(EK_BLOCK)
    ROW_SUM_BLOCKS(EK_BLOCK / 4)
    ROW_SUM_BLOCKS(1)
#undef ROW_SUM_BLOCKS
    for (Py_ssize_t k = k0; k < n_out; k++) product[k] = 0.0f;
    for (Py_ssize_t a = 0; a < n_terms; a++) {
        const float *restrict row = ROW(a);
        for (Py_ssize_t k = k0; k < n_out; k++) product[k] += SCALE(a) * row[k];
    }
#undef ROW
#undef SCALE
}

/*
 * The spikes' product for weights stored as bfloat16 (their uint16 bits), as
 * row_sum(weight, rows, NULL, ...) computes it: the same float32 additions in
 * the same order, from half the bytes (reading the weights from the L2 cache
 * is what limits the float32 sums). A vector load holds 2 * EK_LANES weights;
 * its 32-bit lanes shifted up by 16 bits are the even ones as float32, and
 * masked to their upper 16 bits the odd ones: two cheap operations, no
 * conversion. The even and odd sums are interleaved back once per block.
 */
#if EK_LANES == 16
#define INTERLEAVE_LOW 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23
#define INTERLEAVE_HIGH 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31
#elif EK_LANES == 8
#define INTERLEAVE_LOW 0, 8, 1, 9, 2, 10, 3, 11
#define INTERLEAVE_HIGH 4, 12, 5, 13, 6, 14, 7, 15
#else
#define INTERLEAVE_LOW 0, 4, 1, 5
#define INTERLEAVE_HIGH 2, 6, 3, 7
#endif

EK_TARGET static inline __attribute__((always_inline)) void EK_NAME(bf16_spike_sum)(
    const uint16_t *restrict weight, const int32_t *restrict rows, Py_ssize_t n_terms,
    float *restrict product, Py_ssize_t n_out)
{
    Py_ssize_t k0 = 0;
#define BF16_SUM_BLOCKS(BLOCKS)                                                              \
    for (; k0 + 2 * EK_LANES * (BLOCKS) <= n_out; k0 += 2 * EK_LANES * (BLOCKS)) {          \
        floatv even[BLOCKS], odd[BLOCKS];                                                    \
        for (int i = 0; i < (BLOCKS); i++) even[i] = odd[i] = (floatv){0};                   \
        for (Py_ssize_t a = 0; a < n_terms; a++) {                                           \
            const wordv *row = (const wordv *)(weight + (Py_ssize_t)rows[a] * n_out + k0);   \
            for (int i = 0; i < (BLOCKS); i++) {                                             \
                even[i] += (floatv)(row[i] << 16);                                           \
                odd[i] += (floatv)(row[i] & 0xFFFF0000u);                                    \
            }                                                                                \
        }                                                                                    \
        for (int i = 0; i < (BLOCKS); i++) {                                                 \
            float *out = product + k0 + 2 * EK_LANES * i;                                    \
            *(floatv *)out = __builtin_shufflevector(even[i], odd[i], INTERLEAVE_LOW);       \
            *(floatv *)(out + EK_LANES) = __builtin_shufflevector(even[i], odd[i], INTERLEAVE_HIGH); \
        }                                                                                    \
    }
    BF16_SUM_BLOCKS(EK_BLOCK / 2)
    BF16_SUM_BLOCKS(1)
#undef BF16_SUM_BLOCKS
    for (Py_ssize_t k = k0; k < n_out; k++) product[k] = 0.0f;
    for (Py_ssize_t a = 0; a < n_terms; a++) {
        const uint16_t *row = weight + (Py_ssize_t)rows[a] * n_out;
        for (Py_ssize_t k = k0; k < n_out; k++) {
            uint32_t bits = (uint32_t)row[k] << 16;
            float value;
            memcpy(&value, &bits, sizeof value);
            product[k] += value;
        }
    }
}
#undef INTERLEAVE_LOW
#undef INTERLEAVE_HIGH

/* sum_k a[k] b[k], in EK_LANES partial sums. */
EK_TARGET static inline __attribute__((always_inline)) float EK_NAME(dot)(
    const float *restrict a, const float *restrict b, Py_ssize_t n)
{
    Py_ssize_t k = 0;
    float total = 0.0f;
    floatv partial = {0};
    for (; k + EK_LANES <= n; k += EK_LANES)
        partial += *(const floatv *)(a + k) * *(const floatv *)(b + k);
    for (int i = 0; i < EK_LANES; i++) total += partial[i];
    for (; k < n; k++) total += a[k] * b[k];
    return total;
}

/* The rows row_start to row_end of job, one row at a time (see _cscan.c). */
EK_TARGET static void EK_NAME(event_rows)(EventJob *job)
{
    const Py_ssize_t last = job->n_layers - 1, n_last = job->sizes[last], n_outputs = job->n_outputs;
    /* A spiking readout is one more layer: its neurons' membranes follow the hidden ones'. */
    Py_ssize_t total = job->spike_readout ? n_outputs : 0, widest = n_outputs;
    for (Py_ssize_t l = 0; l <= last; l++) {
        total += job->sizes[l];
        widest = job->sizes[l] > widest ? job->sizes[l] : widest;
    }
    float *v = malloc((size_t)total * sizeof(float));
    float *first = malloc((size_t)job->sizes[0] * sizeof(float));
    float *product = malloc((size_t)widest * sizeof(float));
    float *pooled = malloc((size_t)n_last * sizeof(float));
    uint8_t *fired = malloc((size_t)widest);
    int32_t *active = malloc((size_t)(widest + 16) * sizeof(int32_t));
    if (!v || !first || !product || !pooled || !fired || !active) {
        job->failed = 1;
        goto done;
    }
    for (Py_ssize_t row = job->row_start; row < job->row_end; row++) {
        /* The first layer's current, the same at every step. */
        EK_NAME(row_sum)(job->weights[0], NULL, job->x + row * job->n_inputs, job->n_inputs, first,
                         job->sizes[0]);
        for (Py_ssize_t k = 0; k < job->sizes[0]; k++) first[k] += job->biases[0][k];
        for (Py_ssize_t j = 0; j < total; j++) v[j] = 0.0f;
        for (Py_ssize_t k = 0; k < n_last; k++) pooled[k] = 0.0f;
        float *out = job->out + row * n_outputs;
        for (Py_ssize_t c = 0; c < n_outputs; c++) out[c] = 0.0f;
        for (Py_ssize_t t = 0; t < job->n_steps; t++) {
            float *v_layer = v;
            Py_ssize_t n_active = 0;
            for (Py_ssize_t l = 0; l <= last; l++) {
                const Py_ssize_t n = job->sizes[l];
                const float *current = first, *bias = NULL;
                if (l > 0) {
                    if (job->round_bf16)
                        EK_NAME(bf16_spike_sum)((const uint16_t *)job->weights[l], active, n_active,
                                                product, n);
                    else
                        EK_NAME(row_sum)(job->weights[l], active, NULL, n_active, product, n);
                    current = product, bias = job->biases[l];
                }
                const int pools = l == last && !job->spike_readout;
                EK_NAME(lif_step)(current, bias, job->round_bf16, v_layer, fired,
                                  pools ? pooled : NULL, job->time_weights[t], n, &job->neuron);
                v_layer += n;
                if (!pools)
                    n_active = EK_COMPACT(fired, active, n);
            }
            if (job->spike_readout) { /* the readout fires too: out counts its spikes */
                EK_NAME(row_sum)(job->readout, active, NULL, n_active, product, n_outputs);
                EK_NAME(lif_step)(product, job->readout_bias, 0, v_layer, fired, out, 1.0f,
                                  n_outputs, &job->neuron);
            }
        }
        /* The membrane readout: its bias (times the weights' sum), then the pooled spikes' product. */
        if (!job->spike_readout)
            for (Py_ssize_t c = 0; c < n_outputs; c++)
                out[c] = EK_NAME(dot)(pooled, job->readout + c * n_last, n_last) + job->readout_bias[c];
    }
done:
    free(v), free(first), free(product), free(pooled), free(fired), free(active);
}

#undef ROUND_TO_BF16_V
#undef floatv
#undef intv
#undef wordv
#undef bytev
/* The parameters, so that the next copy defines its own. */
#undef EK_NAME
#undef EK_TARGET
#undef EK_LANES
#undef EK_BLOCK
#undef EK_COMPACT
