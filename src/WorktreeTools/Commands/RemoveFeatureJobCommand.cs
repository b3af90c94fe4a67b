using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Queue;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Deletes finished entries from the job queue's history.</summary>
[Cmdlet(
    VerbsCommon.Remove,
    "FeatureJob",
    SupportsShouldProcess = true,
    ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = ById)]
public sealed class RemoveFeatureJobCommand : WorktreeToolsCmdlet
{
    private const string ById = "ById";

    private JobQueue? queue;

    /// <summary>The ids of the entries to delete.</summary>
    [Parameter(
        Mandatory = true,
        Position = 0,
        ValueFromPipelineByPropertyName = true,
        ParameterSetName = ById)]
    public long[] Id { get; set; } = [];

    /// <summary>Entries from Get-FeatureJob.</summary>
    [Parameter(
        Mandatory = true,
        ValueFromPipeline = true,
        ParameterSetName = ParameterSets.ByObject)]
    public QueuedJob[]? InputObject { get; set; }

    /// <inheritdoc />
    protected override void BeginProcessing()
    {
        try
        {
            queue = JobQueue.Open(Workspace.Repository.StateDirectory);
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var ids = ParameterSetName == ById ? Id : InputObject!.Select(e => e.Id).ToArray();
        foreach (var id in ids)
        {
            try
            {
                Remove(id);
            }
            catch (WorktreeToolsException failure)
            {
                ThrowFailure(failure);
            }
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            queue?.Dispose();
            queue = null;
        }
        base.Dispose(disposing);
    }

    private void Remove(long id)
    {
        var entry = queue!.Find(id);
        if (entry is null)
        {
            WriteError(Errors.Create(
                "QueuedJobNotFound",
                ErrorCategory.ObjectNotFound,
                $"There is no queue entry {id}. Run Get-FeatureJob to see the entries.",
                id));
            return;
        }
        if (!entry.IsFinished)
        {
            WriteNotFinished(entry);
            return;
        }
        var target = $"{entry.Id} {entry.Ticket} {entry.Job} ({entry.State})";
        if (!ShouldProcess(target, "Remove from the job queue's history"))
        {
            return;
        }
        if (!queue.Remove(id))
        {
            // It was queued again (or removed) between the look and the delete.
            if (queue.Find(id) is { } now)
            {
                WriteNotFinished(now);
            }
        }
    }

    private void WriteNotFinished(QueuedJob entry) =>
        WriteFailure(new WorktreeToolsException(
            "QueuedJobNotFinished",
            FailureKind.InvalidOperation,
            $"Queue entry {entry.Id} ({entry.Ticket} {entry.Job}) is {entry.State}; only finished "
            + "entries can be removed. Cancel it first with Stop-FeatureJob.",
            entry));
}
