using System.Collections;
using System.Globalization;

namespace WorktreeTools.Engine.Jobs;

/// <summary>
/// When the machine is too busy for another job: jobs wait to start while the load average
/// (less the runner's own jobs) is above <paramref name="MaxLoad"/> or less memory than
/// <paramref name="MinFreeMemoryMB"/> is available. Zero turns a limit off.
/// </summary>
/// <param name="MaxLoad">The highest one-minute load average at which a job starts.</param>
/// <param name="MinFreeMemoryMB">The least available memory at which a job starts.</param>
public sealed record AdmissionLimits(double MaxLoad, int MinFreeMemoryMB)
{
    /// <summary>A load of the processors minus one (one stays free), no memory floor.</summary>
    public static AdmissionLimits Default { get; } =
        new(Math.Max(1, Environment.ProcessorCount - 1), 0);

    /// <summary>Reads the <c>Admission</c> hashtable of a configuration file.</summary>
    public static AdmissionLimits FromData(object? value, string file)
    {
        if (value is not IDictionary table)
        {
            throw Invalid(file, "Admission",
                "it must be a hashtable such as @{ MaxLoad = 3; MinFreeMemoryMB = 1024 }");
        }
        var limits = Default;
        foreach (DictionaryEntry field in table)
        {
            switch ((field.Key as string)?.ToLowerInvariant())
            {
                case "maxload":
                    var load = field.Value switch
                    {
                        int whole => whole,
                        double real => real,
                        decimal exact => (double)exact,
                        _ => double.NaN,
                    };
                    if (double.IsNaN(load) || load < 0 || double.IsInfinity(load))
                    {
                        throw Invalid(file, "Admission.MaxLoad",
                            "it must be a number, 0 (no limit) or more, "
                            + $"not {Show(field.Value)}");
                    }
                    limits = limits with { MaxLoad = load };
                    break;
                case "minfreememorymb":
                    if (field.Value is not int megabytes || megabytes < 0)
                    {
                        throw Invalid(file, "Admission.MinFreeMemoryMB",
                            "it must be a whole number of megabytes, 0 (no floor) or more, "
                            + $"not {Show(field.Value)}");
                    }
                    limits = limits with { MinFreeMemoryMB = megabytes };
                    break;
                default:
                    throw Invalid(file, $"Admission.{field.Key}",
                        "admission has only MaxLoad and MinFreeMemoryMB");
            }
        }
        return limits;
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"@{{ MaxLoad = {MaxLoad:0.##}; MinFreeMemoryMB = {MinFreeMemoryMB} }}");

    private static string Show(object? value) =>
        Convert.ToString(value, CultureInfo.InvariantCulture) ?? "nothing";

    private static WorktreeToolsException Invalid(string file, string key, string problem) =>
        Configuration.FeatureConfig.Invalid(file, key, problem);
}
